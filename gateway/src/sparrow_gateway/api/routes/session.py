"""Who is signed in, and the cookie that lets EventSource and <audio> carry the key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sparrow_gateway import schemas
from sparrow_gateway.api.auth import COOKIE, CurrentAccount, presented_key
from sparrow_gateway.api.bodies import BodyRoute
from sparrow_gateway.api.deps import AppSettings, Chain
from sparrow_gateway.api.responses import errors

router = APIRouter(prefix="/api", tags=["account"], route_class=BodyRoute)


@router.get("/me", response_model=schemas.Me, responses=errors(401, 503))
async def me(account: CurrentAccount, chain: Chain, settings: AppSettings):
    """The account the key belongs to, its tier, and its takes against the tier's limits."""
    waiting, per_day = settings.take_limits(account.tier.value)
    used = await chain.usage()
    return schemas.Me(
        user=account.user,
        tier=account.tier.value,
        stems_allowed=account.tier.value == "paid",
        limits=schemas.TakeLimits(takes_waiting=waiting, takes_per_day=per_day),
        takes_waiting=used.takes_waiting,
        takes_today=used.takes_today,
        day_resets_in_s=used.day_resets_in_s,
        takes_left_today=max(per_day - used.takes_today, 0) if per_day else None,
    )


@router.post("/session", status_code=204, responses=errors(401, 413))
async def start_session(request: Request, account: CurrentAccount, settings: AppSettings) -> Response:
    """Send the key in the header once; the answer sets an HttpOnly cookie that
    GET requests (the event stream, audio players) may use instead."""
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE, presented_key(request), httponly=True, samesite="strict", secure=settings.secure_cookies,
        max_age=30 * 24 * 3600,
    )
    return response


@router.delete("/session", status_code=204)
async def end_session() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE)
    return response
