"""`python -m services.intake`: run the intake service."""

from services.common.config import settings
from services.common.server import run_forever
from services.intake.servicer import SERVICE_NAME, register, warm_up

if __name__ == "__main__":
    run_forever("intake", register, [SERVICE_NAME], settings().intake_port, warm_up)
