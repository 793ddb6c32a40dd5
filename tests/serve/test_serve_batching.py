"""The Batcher: calls gathered into one run, early stop at the expected count, the window cap."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from monde.serve.batching import Batcher


def run_batches(expected, delays: list[float], window_s: float, max_batch: int = 8):
    sizes: list[int] = []

    def double(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return [2 * i for i in items]

    async def main():
        executor = ThreadPoolExecutor(1)
        batcher = Batcher(double, executor, window_s, max_batch, expected=expected)

        async def call(i: int, delay: float) -> int:
            await asyncio.sleep(delay)
            return await batcher.submit(i)

        clock = time.perf_counter()
        results = await asyncio.gather(*(call(i, d) for i, d in enumerate(delays)))
        elapsed = time.perf_counter() - clock
        await batcher.close()
        executor.shutdown()
        return results, elapsed

    results, elapsed = asyncio.run(main())
    return results, sizes, elapsed


def test_a_lone_caller_does_not_wait_for_the_window():
    results, sizes, elapsed = run_batches(lambda: 1, [0.0], window_s=5.0)
    assert results == [0] and sizes == [1] and elapsed < 2.0


def test_calls_arriving_apart_join_one_batch_when_their_callers_are_expected():
    results, sizes, _ = run_batches(lambda: 3, [0.0, 0.03, 0.06], window_s=5.0)
    assert results == [0, 2, 4] and sizes == [3]


def test_the_window_caps_the_wait_and_max_batch_the_size():
    _, sizes, elapsed = run_batches(lambda: 10, [0.0], window_s=0.05)
    assert sizes == [1] and elapsed < 2.0  # nobody else came: the window ended the wait
    _, sizes, _ = run_batches(None, [0.0] * 5, window_s=0.2, max_batch=2)
    assert sorted(sizes) == [1, 2, 2]
