"""``plan_chunks`` against TikTok's chunk rules (api-facts §3.4) under both readings of "MB".

The rules are restated here from the document on purpose, rather than imported from the
library, so a misreading in the library cannot hide behind the same misreading in its test.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zakipost.tiktok import (
    ChunkPlan,
    ChunkPlanError,
    FileUploadSource,
    VideoTooLarge,
    chunk_plan_violations,
    plan_chunks,
)

DECIMAL_MB = 1_000_000
BINARY_MB = 1024 * 1024
FOUR_GB = 4_000_000_000

deterministic = settings(derandomize=True, database=None, max_examples=300)


def assert_follows_rules(plan: ChunkPlan, size: int, mb: int) -> None:
    n = plan.total_chunk_count
    assert plan.video_size == size
    assert 1 <= n <= 1000
    assert n == size // plan.chunk_size
    assert len(plan.chunks) == n
    # Contiguous, sequential, covering the file exactly.
    assert [c.index for c in plan.chunks] == list(range(n))
    assert plan.chunks[0].start == 0
    assert plan.chunks[-1].end == size - 1
    for before, after in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert after.start == before.end + 1
    assert sum(c.size for c in plan.chunks) == size
    for chunk in plan.chunks[:-1]:
        assert chunk.size == plan.chunk_size
        assert 5 * mb <= chunk.size <= 64 * mb
    final = plan.chunks[-1]
    assert final.size == plan.chunk_size + size % plan.chunk_size
    assert final.size <= 128 * mb
    if size < 5 * mb:
        assert (n, plan.chunk_size) == (1, size)
    else:
        assert 5 * mb <= plan.chunk_size <= 64 * mb
        assert final.size >= 5 * mb
    if size > 64 * mb:
        assert n >= 2
    if n == 1:
        assert plan.chunk_size == size


BOUNDARIES = [
    1,
    4_999_999,
    5_000_000,
    5_242_879,
    5_242_880,
    5_242_881,
    63_999_999,
    64_000_000,
    64_000_001,
    67_108_863,
    67_108_864,
    67_108_865,
    127_999_999,
    128_000_000,
    128_000_001,
    134_217_728,
    134_217_729,
    191_999_999,
    192_000_000,
    1_000_000_000,
    FOUR_GB - 1,
    FOUR_GB,
]


class TestPlanChunks:
    @deterministic
    @given(size=st.integers(min_value=1, max_value=FOUR_GB))
    def test_every_size_up_to_4_gb_satisfies_both_readings(self, size: int) -> None:
        plan = plan_chunks(size)
        assert_follows_rules(plan, size, DECIMAL_MB)
        assert_follows_rules(plan, size, BINARY_MB)
        assert chunk_plan_violations(plan) == []

    @pytest.mark.parametrize("size", BOUNDARIES)
    def test_boundaries_satisfy_both_readings(self, size: int) -> None:
        plan = plan_chunks(size)
        assert_follows_rules(plan, size, DECIMAL_MB)
        assert_follows_rules(plan, size, BINARY_MB)

    @deterministic
    @given(size=st.integers(min_value=FOUR_GB + 1, max_value=2**45))
    @example(size=FOUR_GB + 1)
    @example(size=4 * 1024**3)
    def test_over_4_gb_is_refused(self, size: int) -> None:
        with pytest.raises(VideoTooLarge, match="at most 4000000000"):
            plan_chunks(size)

    @pytest.mark.parametrize("size", [0, -1])
    def test_empty_is_refused(self, size: int) -> None:
        with pytest.raises(ChunkPlanError):
            plan_chunks(size)

    @pytest.mark.parametrize("size", [1, 4_194_304, 5_100_000, 50_000_123, 64_000_000])
    def test_up_to_64_000_000_bytes_is_one_put(self, size: int) -> None:
        plan = plan_chunks(size)
        assert (plan.chunk_size, plan.total_chunk_count) == (size, 1)

    @pytest.mark.parametrize(
        ("size", "chunk_size", "count"),
        [
            (64_000_001, 32_000_000, 2),
            (100_000_001, 50_000_000, 2),
            (128_000_000, 64_000_000, 2),
            (1_000_000_000, 64_000_000, 15),
            (FOUR_GB, 64_000_000, 62),
        ],
    )
    def test_large_files_use_the_largest_valid_chunks(
        self, size: int, chunk_size: int, count: int
    ) -> None:
        plan = plan_chunks(size)
        assert (plan.chunk_size, plan.total_chunk_count) == (chunk_size, count)

    @deterministic
    @given(size=st.integers(min_value=128_000_000, max_value=FOUR_GB))
    def test_no_valid_chunk_size_is_larger(self, size: int) -> None:
        assert plan_chunks(size).chunk_size == 64_000_000
        with pytest.raises(ChunkPlanError):
            plan_chunks(size, chunk_size=64_000_001)


class TestDocWorkedExamples:
    def test_50_000_123_bytes_in_10_000_000_byte_chunks(self) -> None:
        plan = plan_chunks(50_000_123, chunk_size=10_000_000)
        assert plan.total_chunk_count == 5
        assert [c.content_range(plan.video_size) for c in plan.chunks] == [
            "bytes 0-9999999/50000123",
            "bytes 10000000-19999999/50000123",
            "bytes 20000000-29999999/50000123",
            "bytes 30000000-39999999/50000123",
            "bytes 40000000-50000122/50000123",
        ]
        assert plan.chunks[-1].size == 10_000_123

    def test_4_194_304_bytes_whole(self) -> None:
        plan = plan_chunks(4_194_304)
        assert plan.total_chunk_count == 1
        assert plan.chunks[0].content_range(plan.video_size) == "bytes 0-4194303/4194304"


class TestExplicitChunkSize:
    @pytest.mark.parametrize(
        ("size", "chunk_size", "problem"),
        [
            (100_000_000, 5_000_000, "between 5242880 and 64000000"),
            (100_000_000, 100_000_000, "several chunks"),
            (70_000_000, 40_000_000, "single-chunk"),
            (20_000_000, 15_000_000, "single-chunk"),
            (4_000_000, 2_000_000, "sent whole"),
        ],
    )
    def test_rejects_plans_outside_the_rules(
        self, size: int, chunk_size: int, problem: str
    ) -> None:
        with pytest.raises(ChunkPlanError, match=problem):
            plan_chunks(size, chunk_size=chunk_size)

    def test_rejects_a_chunk_size_above_the_video_size(self) -> None:
        with pytest.raises(ChunkPlanError):
            plan_chunks(10, chunk_size=11)

    def test_final_chunk_over_128_mb_is_a_violation(self) -> None:
        plan = ChunkPlan.from_chunk_size(250_000_000, 100_000_000)
        assert any("final chunk" in p for p in chunk_plan_violations(plan))

    def test_too_many_chunks_is_a_violation(self) -> None:
        plan = ChunkPlan.from_chunk_size(10_010, 10)
        assert any("1 to 1000 chunks" in p for p in chunk_plan_violations(plan))


class TestChunkPlan:
    def test_from_chunk_size_puts_the_remainder_in_the_final_chunk(self) -> None:
        plan = ChunkPlan.from_chunk_size(35, 10)
        assert [(c.start, c.end) for c in plan.chunks] == [(0, 9), (10, 19), (20, 34)]

    def test_chunk_starting_at(self) -> None:
        plan = ChunkPlan.from_chunk_size(35, 10)
        assert [plan.chunk_starting_at(o) for o in (0, 10, 20, 35)] == [0, 1, 2, 3]
        assert [plan.chunk_starting_at(o) for o in (5, 30, 36, -10)] == [None] * 4

    def test_file_upload_source_from_plan(self) -> None:
        plan = plan_chunks(200_000_000)
        source = FileUploadSource.from_plan(plan)
        assert source.to_api() == {
            "source": "FILE_UPLOAD",
            "video_size": 200_000_000,
            "chunk_size": 64_000_000,
            "total_chunk_count": 3,
        }
