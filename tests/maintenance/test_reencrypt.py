from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.app import TEST_MASTER_KEY, AccountWithKeys
from zakipost.account import service as account_service
from zakipost.kit.crypto import Vault, new_master_key, parse_master_keys
from zakipost.maintenance.reencrypt import reencrypt_all
from zakipost.models import Account


async def test_reencrypt_moves_everything_to_the_newest_key(
    sessionmaker: async_sessionmaker[AsyncSession], owner: AccountWithKeys
) -> None:
    k2 = new_master_key("k2")
    rotated = Vault(parse_master_keys(f"{TEST_MASTER_KEY},{k2}"))
    async with sessionmaker() as session, session.begin():
        report = await reencrypt_all(session, rotated)
    assert report.resealed["accounts.client_secret_encrypted"] == 1

    async with sessionmaker() as session:
        account = (await session.scalars(select(Account))).one()
    assert account.client_secret_encrypted.startswith("v1:k2:")
    # The old key can now be retired: the new one alone opens everything.
    assert (
        account_service.reveal_credentials(Vault(parse_master_keys(k2)), account)
        == owner.credentials
    )

    async with sessionmaker() as session, session.begin():
        again = await reencrypt_all(session, rotated)
    assert again.total == 0
