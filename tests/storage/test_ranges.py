"""Parsing one byte Range against an object's size."""

from __future__ import annotations

import pytest

from zakipost.storage.ranges import ByteRange, RangeNotSatisfiable, parse_range


class TestParseRange:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("bytes=0-99", ByteRange(0, 99)),
            ("bytes=100-", ByteRange(100, 999)),
            ("bytes=-10", ByteRange(990, 999)),
            ("bytes=-5000", ByteRange(0, 999)),
            ("bytes=990-5000", ByteRange(990, 999)),
            ("bytes=999-999", ByteRange(999, 999)),
            (" bytes = 5 - 9 ", ByteRange(5, 9)),
        ],
    )
    def test_satisfiable(self, header: str, expected: ByteRange) -> None:
        assert parse_range(header, 1000) == expected

    @pytest.mark.parametrize("header", [None, "", "items=0-5", "bytes=0-1,5-9"])
    def test_whole_object(self, header: str | None) -> None:
        assert parse_range(header, 1000) is None

    @pytest.mark.parametrize(
        "header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=-", "bytes="]
    )
    def test_not_satisfiable(self, header: str) -> None:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, 1000)

    def test_nothing_is_satisfiable_in_an_empty_object(self) -> None:
        with pytest.raises(RangeNotSatisfiable):
            parse_range("bytes=-1", 0)
        with pytest.raises(RangeNotSatisfiable):
            parse_range("bytes=0-", 0)

    def test_content_range(self) -> None:
        assert ByteRange(5, 9).content_range(1000) == "bytes 5-9/1000"
        assert ByteRange(5, 9).length == 5
