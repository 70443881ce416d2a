"""HTTP for vendors (being built)."""

from app.core.routing import api_router

router = api_router(prefix="/vendors", tags=["vendors"])
