"""Chunk rules at init (§3.4), as properties: every valid plan accepted, every invalid refused.

Plans are built by construction from the documented rules (not by calling the sandbox's own
check), then sent to `/v2/post/publish/video/init/` like any client would.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .driver import PUBLIC, Driver, error_of

MIB = 1 << 20
# The default "MB" reading, "safe": only what both binary and decimal readings accept.
MIN, MAX, MAX_FILE = 5 * MIB, 64_000_000, 4_000_000_000

Plan = tuple[int, int, int]  # video_size, chunk_size, total_chunk_count
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def valid_plans(draw: st.DrawFn) -> Plan:
    if draw(st.booleans()):
        size = draw(st.integers(1, MIN - 1))  # small files go whole
        return size, size, 1
    chunk = draw(st.integers(MIN, MAX))
    count = draw(st.integers(1, min(1000, MAX_FILE // chunk)))
    tail = draw(st.integers(0, chunk - 1))
    size = chunk * count + tail
    if count == 1:
        size = min(size, MAX)  # over 64 MiB needs several chunks
    return min(size, MAX_FILE), chunk, min(size, MAX_FILE) // chunk


@st.composite
def invalid_plans(draw: st.DrawFn) -> Plan:
    size, chunk, count = draw(valid_plans())
    kind = draw(
        st.sampled_from(
            [
                "count_off",
                "chunk_small",
                "chunk_large",
                "small_split",
                "too_big",
                "too_many",
                "big_whole",
                "non_positive",
            ]
        )
    )
    if kind == "count_off":
        return size, chunk, count + draw(st.sampled_from([-1, 1]))
    if kind == "chunk_small":
        big = draw(st.integers(MIN, MAX_FILE))
        small = draw(st.integers(1, MIN - 1))
        return big, small, big // small
    if kind == "chunk_large":
        big_chunk = draw(st.integers(MAX + 1, 4 * MAX))
        whole = draw(st.integers(big_chunk, MAX_FILE))
        return whole, big_chunk, whole // big_chunk
    if kind == "small_split":
        small = draw(st.integers(2, MIN - 1))
        part = draw(st.integers(1, small - 1))
        return small, part, small // part
    if kind == "too_big":
        huge = draw(st.integers(MAX_FILE + 1, 2 * MAX_FILE))
        return huge, MAX, huge // MAX
    if kind == "too_many":
        return MIN * 1001, MIN, 1001
    if kind == "big_whole":
        whole = draw(st.integers(MAX + 1, 2 * MAX - 1))
        return whole, whole, 1
    return draw(
        st.sampled_from(
            [(0, 0, 1), (-5, -5, 1), (size, 0, count), (size, chunk, 0), (size, chunk, -1)]
        )
    )


async def init(tt: Driver, headers: dict[str, str], plan: Plan):
    size, chunk, count = plan
    body = {
        "post_info": PUBLIC,
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        },
    }
    return await tt.api("/v2/post/publish/video/init/", headers, body)


@pytest.fixture
async def unlimited(tt: Driver) -> dict[str, str]:
    await tt.configure(rate_limits_enabled=False, daily_post_cap=10**9, progression="manual")
    return await tt.auth()


class TestChunkPlans:
    @SETTINGS
    @given(plan=valid_plans())
    async def test_every_valid_plan_is_accepted(
        self, tt: Driver, unlimited: dict[str, str], plan: Plan
    ) -> None:
        response = await init(tt, unlimited, plan)
        assert response.status_code == 200, (plan, response.text)
        assert "upload_url" in response.json()["data"]

    @SETTINGS
    @given(plan=invalid_plans())
    async def test_every_invalid_plan_is_refused(
        self, tt: Driver, unlimited: dict[str, str], plan: Plan
    ) -> None:
        assert error_of(await init(tt, unlimited, plan)) == (400, "invalid_params"), plan

    @pytest.mark.parametrize(
        ("plan", "binary", "decimal", "safe"),
        [
            ((50_000_123, 10_000_000, 5), True, True, True),  # the guide's worked example
            ((4_194_304, 4_194_304, 1), True, True, True),  # the guide's whole-file example
            ((12_000_000, 5_000_000, 2), False, True, False),  # 5 MB decimal < 5 MiB
            ((200_000_000, 66_000_000, 3), True, False, False),  # 66 MB > 64 MB decimal
            ((5_100_000, 5_100_000, 1), True, True, True),  # whole, under every reading
            ((5_100_000, 5_050_000, 1), False, True, False),  # under 5 MiB: must go whole
            ((130_000_000, 64_000_000, 2), True, True, True),  # the safe band's top
        ],
    )
    async def test_mb_unit_readings(
        self,
        tt: Driver,
        unlimited: dict[str, str],
        plan: Plan,
        binary: bool,
        decimal: bool,
        safe: bool,
    ) -> None:
        for unit, accepted in (("binary", binary), ("decimal", decimal), ("safe", safe)):
            await tt.configure(mb_unit=unit)
            _status, code = error_of(await init(tt, unlimited, plan))
            assert (code == "ok") is accepted, (unit, plan, code)
        assert (await tt.http.get("/_sandbox/config")).json()["mb_unit"] == "safe"

    async def test_error_message(self, tt: Driver, unlimited: dict[str, str]) -> None:
        response = await init(tt, unlimited, (20 * MIB, 4 * MIB, 5))
        assert response.json()["error"]["message"] == "The chunk size is invalid"
