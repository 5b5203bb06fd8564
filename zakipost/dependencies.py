"""Dependencies shared by every domain's endpoints: settings, the vault, the clock."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from zakipost.config import Settings
from zakipost.kit.crypto import Vault


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
