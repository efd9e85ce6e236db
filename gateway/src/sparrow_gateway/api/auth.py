"""Every /api call names its account: the X-API-Key header (or Authorization:
Bearer). EventSource and <audio> can't send headers, so GET requests may carry
the key in the `sparrow_key` cookie instead, set by POST /api/session; a cookie
never authorizes a change (no cross-site writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer

from sparrow_gateway.accounts import Account, Tier

COOKIE = "sparrow_key"

# The three ways to present a key, declared for OpenAPI (so /docs has an
# Authorize button); presented_key() reads them, with the cookie for GETs only.
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, in a header.")
BEARER = HTTPBearer(auto_error=False, description="The API key as a bearer token.")
SESSION = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by POST /api/session; GET requests only.")


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token
    if request.method in ("GET", "HEAD"):
        return request.cookies.get(COOKIE)
    return None


def current_account(
    request: Request,
    _header: Annotated[str | None, Security(API_KEY)] = None,
    _bearer: Annotated[object, Security(BEARER)] = None,
    _cookie: Annotated[str | None, Security(SESSION)] = None,
) -> Account:
    key = presented_key(request)
    account = request.app.state.accounts.find(key)
    if account is None:
        raise HTTPException(
            401,
            # A key that was given but is not known is a different mistake from none.
            "That API key is not one Sparrow knows: check it, or ask for a new one."
            if key
            else "An API key is needed: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": 'Bearer realm="sparrow"'},
        )
    request.state.account = account
    return account


def paid_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if account.tier is not Tier.PAID:
        raise HTTPException(403, f"Stem separation needs the paid tier; this key is on the {account.tier.value} tier.")
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]
PaidAccount = Annotated[Account, Depends(paid_account)]
