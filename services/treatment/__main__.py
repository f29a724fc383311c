"""`python -m services.treatment`: run the treatment service."""

from services.platform.config import settings
from services.platform.server import run_forever
from services.treatment.servicer import SERVICE_NAME, register, warm_up

if __name__ == "__main__":
    run_forever("treatment", register, [SERVICE_NAME], settings().treatment_port, warm_up)
