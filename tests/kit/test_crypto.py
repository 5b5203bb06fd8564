from __future__ import annotations

import stat
from pathlib import Path

import pytest

from zakipost.kit.crypto import (
    Vault,
    VaultError,
    load_or_create_key_file,
    new_master_key,
    parse_master_keys,
)


class TestKeyFile:
    def test_created_with_mode_0600_and_reused(self, tmp_path: Path) -> None:
        path = tmp_path / "data" / "master.key"
        first = load_or_create_key_file(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_or_create_key_file(path) == first


class TestVault:
    def test_seal_and_open(self) -> None:
        vault = Vault(parse_master_keys(new_master_key("k1")))
        sealed = vault.seal("act.secret!token", context="connections.access_token:1")
        assert sealed.startswith("v1:k1:")
        assert "act." not in sealed
        assert vault.open(sealed, context="connections.access_token:1") == "act.secret!token"

    def test_context_is_bound(self) -> None:
        vault = Vault(parse_master_keys(new_master_key("k1")))
        sealed = vault.seal("value", context="a")
        with pytest.raises(VaultError):
            vault.open(sealed, context="b")

    def test_rotation_keeps_old_ciphertexts_readable(self) -> None:
        old = new_master_key("k1")
        sealed = Vault(parse_master_keys(old)).seal("value", context="c")
        both = Vault(parse_master_keys(f"{old},{new_master_key('k2')}"))
        assert both.open(sealed, context="c") == "value"
        assert both.needs_rotation(sealed)
        assert both.reseal(sealed, context="c").startswith("v1:k2:")

    @pytest.mark.parametrize("text", ["nokey", "k1:short", "k 1:" + "A" * 43, "k1:AAAA,k1:AAAA"])
    def test_bad_master_keys_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="master key"):
            parse_master_keys(text)

    def test_repr_shows_no_key(self) -> None:
        key = parse_master_keys(new_master_key("k1"))[0]
        assert key.key.hex() not in repr(Vault([key]))
