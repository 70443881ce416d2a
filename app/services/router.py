"""HTTP for services (being built)."""

from app.core.routing import api_router

router = api_router(prefix="/services", tags=["services"])
