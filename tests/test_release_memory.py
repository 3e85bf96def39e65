"""Memory a stage freed goes back to the system before the next stage of a long run."""

from __future__ import annotations

import psutil
import pytest

from riskcast.jobs import memory
from riskcast.jobs.memory import release_freed_memory

MB = 2**20


def _rss() -> int:
    return psutil.Process().memory_info().rss


@pytest.mark.skipif(memory._TRIM is None, reason="the C library has no malloc_trim (not glibc)")
def test_freed_heap_pages_go_back_to_the_system():
    # 2 KB objects come from malloc's heap; keeping one in 64 leaves holes that free() alone
    # never returns (only the top of the heap is trimmed), as a long stage's leftovers do.
    chunks = [bytes(2048) for _ in range(100_000)]
    kept = chunks[::64]
    del chunks
    before = _rss()
    release_freed_memory()
    after = _rss()
    assert before - after > 100 * MB, f"resident {before / MB:.0f} MB -> {after / MB:.0f} MB"
    assert len(kept) == 1563  # held to the end, so the holes stay holes
