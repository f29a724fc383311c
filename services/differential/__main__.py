"""`python -m services.differential`: run the differential service."""

from services.common.config import settings
from services.common.server import run_forever
from services.differential.servicer import SERVICE_NAME, register, warm_up

if __name__ == "__main__":
    run_forever("differential", register, [SERVICE_NAME], settings().differential_port, warm_up)
