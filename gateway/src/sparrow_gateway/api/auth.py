"""Every /api call names its account: the X-API-Key header (or Authorization:
Bearer). EventSource and <audio> can't send headers, so GET requests may carry
the key in the `sparrow_key` cookie instead, set by POST /api/session; a cookie
never authorizes a change (no cross-site writes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from sparrow_gateway.accounts import Account, Tier

COOKIE = "sparrow_key"


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


def current_account(request: Request) -> Account:
    account = request.app.state.accounts.find(presented_key(request))
    if account is None:
        raise HTTPException(
            401,
            "An API key is needed: send it in the X-API-Key header.",
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
