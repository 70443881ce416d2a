"""HTTP for vendor webhooks and the inbox (being built)."""

from app.core.routing import api_router

router = api_router(tags=["webhooks"])
