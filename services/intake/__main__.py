"""`python -m services.intake`: run the intake service."""

from services.intake.servicer import SERVICE_NAME, register, warm_up
from services.platform.config import settings
from services.platform.server import run_forever

if __name__ == "__main__":
    run_forever("intake", register, [SERVICE_NAME], settings().intake_port, warm_up)
