"""The public face of ``zakipost.tiktok``: a sorted ``__all__`` that matches the module."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

from zakipost import tiktok


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions; numbers compared as numbers.
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def test_all_is_sorted() -> None:
    assert tiktok.__all__ == sorted(tiktok.__all__, key=_isort_key)


def test_all_has_no_duplicates() -> None:
    assert len(tiktok.__all__) == len(set(tiktok.__all__))


def test_everything_exported_exists() -> None:
    missing = [name for name in tiktok.__all__ if not hasattr(tiktok, name)]
    assert missing == []


def test_every_public_member_is_exported() -> None:
    public = {
        name
        for name, value in vars(tiktok).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(tiktok.__all__)


def test_exported_classes_and_functions_have_docstrings() -> None:
    undocumented = [
        name
        for name in tiktok.__all__
        if (inspect.isclass(obj := getattr(tiktok, name)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert undocumented == []


def test_public_methods_of_the_client_have_docstrings() -> None:
    undocumented = [
        name
        for name, member in vars(tiktok.TikTokClient).items()
        if not name.startswith("_") and callable(member) and not inspect.getdoc(member)
    ]
    assert undocumented == []


def test_the_client_shares_no_code_with_the_sandbox() -> None:
    package = Path(tiktok.__file__).parent
    sources = {path.name: path.read_text() for path in package.glob("*.py")}
    assert sources
    imports_sandbox = re.compile(
        r"^\s*(from|import)\s+zakipost(\.sandbox|\s+import\s+sandbox)", re.MULTILINE
    )
    assert [name for name, text in sources.items() if imports_sandbox.search(text)] == []
