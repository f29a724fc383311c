"""The clinic intake tablet: FHIR SDC ``$next-question``, the tablet page and the staff view."""

from fastapi import APIRouter

from services.gateway.tablet import sdc_routes

router = APIRouter()
router.include_router(sdc_routes.router)
