"""Dependencies the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sparrow_gateway.api.auth import CurrentAccount
from sparrow_gateway.chain_client import ChainClient
from sparrow_gateway.config import Settings


def get_chain_client(request: Request, account: CurrentAccount) -> ChainClient:
    """The chain service, called on behalf of the signed-in account, with its tier's limits."""
    settings: Settings = request.app.state.settings
    return request.app.state.chain.as_user(account.user, settings.take_limits(account.tier.value))


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


Chain = Annotated[ChainClient, Depends(get_chain_client)]
AppSettings = Annotated[Settings, Depends(get_settings)]
