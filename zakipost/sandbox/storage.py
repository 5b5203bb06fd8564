"""Where received media bytes go: plain files under the sandbox's storage directory."""

from __future__ import annotations

from types import TracebackType
from typing import BinaryIO, Self


class SpoolFile:
    """Writes body pieces at an offset as they arrive, and can undo them.

    Writes are synchronous on purpose: a body piece (tens of KB) lands in the page cache in
    microseconds, much cheaper than a thread hop per piece when a GB streams through.
    """

    def __init__(self, path: str, offset: int = 0, *, create: bool = False) -> None:
        self.offset = offset
        self._fh: BinaryIO = open(path, "wb" if create else "r+b")  # noqa: SIM115 (closed in __exit__)
        self._fh.seek(offset)

    def write(self, data: bytes) -> None:
        self._fh.write(data)

    def rollback(self) -> None:
        self._fh.truncate(self.offset)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._fh.close()
