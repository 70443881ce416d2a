"""HTTP for assets (being built)."""

from app.core.routing import api_router

router = api_router(prefix="/assets", tags=["assets"])
