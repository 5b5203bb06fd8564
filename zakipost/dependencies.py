"""Dependencies shared by every domain's endpoints: settings, the vault, the clock.

All ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop
per request (measured: a noticeable share of a publish's CPU) for reading an attribute."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from zakipost.config import Settings
from zakipost.connection.tokens import TokenVault
from zakipost.kit.clock import utcnow
from zakipost.kit.crypto import Vault
from zakipost.tiktok import TikTokClient


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]


async def get_tiktok(request: Request) -> TikTokClient:
    client: TikTokClient = request.app.state.tiktok
    return client


async def get_token_vault(request: Request) -> TokenVault:
    tokens: TokenVault = request.app.state.token_vault
    return tokens


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """For endpoints that talk to TikTok: short transactions around the network call,
    never one held across it."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


TikTokDep = Annotated[TikTokClient, Depends(get_tiktok)]
TokenVaultDep = Annotated[TokenVault, Depends(get_token_vault)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


def get_clock(request: Request) -> Callable[[], dt.datetime]:
    """The process's clock (the composition root's; tests move it)."""
    components = getattr(request.app.state, "components", None)
    clock: Callable[[], dt.datetime] = components.clock if components is not None else utcnow
    return clock


async def _clock(request: Request) -> Callable[[], dt.datetime]:
    return get_clock(request)


ClockDep = Annotated[Callable[[], dt.datetime], Depends(_clock)]
