"""HTTP for contracts (being built)."""

from app.core.routing import api_router

router = api_router(prefix="/contracts", tags=["contracts"])
