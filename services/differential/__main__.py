"""`python -m services.differential`: run the differential service."""

from services.differential.servicer import SERVICE_NAME, register, warm_up
from services.platform.config import settings
from services.platform.server import run_forever

if __name__ == "__main__":
    run_forever("differential", register, [SERVICE_NAME], settings().differential_port, warm_up)
