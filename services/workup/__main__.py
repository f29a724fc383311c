"""`python -m services.workup`: run the work-up service."""

from services.platform.config import settings
from services.platform.server import run_forever
from services.workup.servicer import SERVICE_NAME, register, warm_up

if __name__ == "__main__":
    run_forever("workup", register, [SERVICE_NAME], settings().workup_port, warm_up)
