"""Re-encrypt every stored secret under the newest master key (after adding one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zakipost.account.keys import secret_context
from zakipost.connection.tokens import access_context, refresh_context
from zakipost.kit.crypto import Vault
from zakipost.models import Account, Connection, OAuthState, Post, WebhookEndpoint
from zakipost.webhook.signing import previous_secret_context
from zakipost.webhook.signing import secret_context as webhook_secret


@dataclass
class ReencryptReport:
    resealed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


# (model, column, context for a row)
_COLUMNS: tuple[tuple[type[Any], str, Callable[[Any], str]], ...] = (
    (Account, "client_secret_encrypted", lambda row: secret_context(row.id)),
    (Connection, "access_token_encrypted", lambda row: access_context(row.id)),
    (Connection, "refresh_token_encrypted", lambda row: refresh_context(row.id)),
    (
        OAuthState,
        "code_verifier_encrypted",
        lambda row: f"oauth_states.code_verifier:{row.state_hash}",
    ),
    (Post, "upload_url_encrypted", lambda row: f"posts.upload_url:{row.id}"),
    (WebhookEndpoint, "secret_encrypted", lambda row: webhook_secret(row.id)),
    (
        WebhookEndpoint,
        "previous_secret_encrypted",
        lambda row: previous_secret_context(row.id),
    ),
)


async def reencrypt_all(session: AsyncSession, vault: Vault) -> ReencryptReport:
    """Reseal every ciphertext not under ``vault``'s newest key, in the caller's transaction."""
    report = ReencryptReport()
    for model, column, context in _COLUMNS:
        count = 0
        rows = (
            await session.scalars(select(model).where(getattr(model, column).is_not(None)))
        ).all()
        for row in rows:
            value = getattr(row, column)
            if value and vault.needs_rotation(value):
                setattr(row, column, vault.reseal(value, context=context(row)))
                count += 1
        report.resealed[f"{model.__tablename__}.{column}"] = count
    await session.flush()
    return report
