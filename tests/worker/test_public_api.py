"""The package's public face: a sorted __all__, and a docstring on every public name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import zakipost.worker

MODULES = [
    importlib.import_module(f"zakipost.worker.{info.name}")
    for info in pkgutil.iter_modules(zakipost.worker.__path__)
]


def test_all_is_sorted_and_importable() -> None:
    assert zakipost.worker.__all__ == sorted(zakipost.worker.__all__)
    for name in zakipost.worker.__all__:
        assert hasattr(zakipost.worker, name), name


def test_every_module_has_a_docstring() -> None:
    for module in [zakipost.worker, *MODULES]:
        assert module.__doc__, module.__name__


def _public_members(cls: type) -> list[tuple[str, object]]:
    kinds = (property, staticmethod, classmethod)
    return [
        (name, member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, kinds))
    ]


def test_every_public_function_class_and_method_has_a_docstring() -> None:
    checked, missing = [], []
    for module in MODULES:
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            members = _public_members(obj) if inspect.isclass(obj) else []
            for qualname, item in [(name, obj)] + [(f"{name}.{m}", v) for m, v in members]:
                checked.append(qualname)
                if not inspect.getdoc(item):
                    missing.append(f"{module.__name__}.{qualname}")
    assert "Worker.run_until_idle" in checked
    assert "JobContext.lease_lost" in checked
    assert missing == []
