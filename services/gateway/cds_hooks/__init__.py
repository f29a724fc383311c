"""CDS Hooks 2.0 for EHRs (issue 13): discovery, patient-view, order-select, feedback."""

from services.gateway.cds_hooks.routes import router

__all__ = ["router"]
