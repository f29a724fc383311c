"""The clinic intake tablet: FHIR SDC ``$next-question``, the tablet page and the staff view."""

from fastapi import APIRouter

from services.gateway.tablet import pages, sdc_routes, staff

router = APIRouter()
router.include_router(sdc_routes.router)
router.include_router(pages.router)
router.include_router(staff.router)
