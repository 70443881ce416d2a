"""HTTP for quote previews."""

from __future__ import annotations

from fastapi import Request

from app.auth.dependencies import ReadKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.quotes import service
from app.quotes.models import QuoteCreate, QuotePreview

router = api_router(prefix="/quotes", tags=["quotes"])


@router.post(
    "/preview",
    response_model=QuotePreview,
    summary="Price a quote on real costs (nothing is stored)",
    description="Per line and in total: monthly revenue, the expected cost (the latest "
    "month's actual mean vendor unit cost of the service, else, or when a price-book entry in "
    "effect today is newer than that month, its standard unit cost today, saying which), "
    "profit and margin, with a warning for each line below the margin floor "
    "(docs/price-book.md#quotes).",
    responses=problem_responses(401, 403, 422),
)
async def preview(
    body: QuoteCreate, request: Request, session: SessionDep, _: ReadKey
) -> QuotePreview:
    return await service.preview(
        session, data=body, default_floor=request.app.state.settings.quote_margin_floor
    )
