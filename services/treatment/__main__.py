"""`python -m services.treatment`: run the treatment service."""

from services.common.config import settings
from services.common.server import run_forever
from services.treatment.servicer import SERVICE_NAME, register, warm_up

if __name__ == "__main__":
    run_forever("treatment", register, [SERVICE_NAME], settings().treatment_port, warm_up)
