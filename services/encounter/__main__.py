"""`python -m services.encounter`: run the encounter service (the front door)."""

from services.encounter.audit_servicer import SERVICE_NAME as AUDIT_SERVICE_NAME
from services.encounter.servicer import SERVICE_NAME, register
from services.knowledge import knowledge_base
from services.platform.config import settings
from services.platform.server import run_forever

if __name__ == "__main__":
    run_forever(
        "encounter", register, [SERVICE_NAME, AUDIT_SERVICE_NAME], settings().encounter_port,
        kb_version=knowledge_base().version,  # for the audit records of refused calls
    )
