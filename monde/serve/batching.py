"""Gather concurrent calls for at most a few milliseconds and run them as one batch on the
planning thread, so the event loop stays free to read and answer requests meanwhile.

While one batch plans, the next one fills. A batch stops waiting early once it holds as many
calls as there are active callers (`expected()`: the server counts the sessions used in the
last second), so a lone robot never waits and sixteen robots calling back to back are planned
together even when their calls arrive a few ms apart; in any case it waits at most `window_s`.
A call whose client went away before its batch ran is left out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await submit(item)` → the result of `run(items)` for the batch the item joined.

    `max_batch` 1 (with `window_s` 0) plans one call at a time: the unbatched server.
    """

    def __init__(
        self,
        run: Callable[[list[T]], list[R]],
        executor: Executor,
        window_s: float,
        max_batch: int,
        on_batch: Callable[[int, float], None] | None = None,
        expected: Callable[[], int] | None = None,
    ):
        """`expected()`: how many callers are active now (a batch holding that many calls
        stops waiting); None: wait the whole window."""
        self.run, self.executor = run, executor
        self.expected = expected
        self.window_s, self.max_batch = window_s, max_batch
        self.on_batch = on_batch  # (batch size, seconds) after each batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None

    async def submit(self, item: T) -> R:
        if self._task is None or self._task.done():
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._queue is not None and not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the server is shutting down"))

    async def _gather(self) -> list[tuple[T, asyncio.Future]]:
        queue = self._queue
        batch = [await queue.get()]
        deadline = time.perf_counter() + self.window_s
        target = self.max_batch if self.expected is None else max(1, self.expected())
        while len(batch) < self.max_batch:
            if len(batch) >= target and queue.empty():
                break
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [(item, fut) for item, fut in await self._gather() if not fut.done()]
            if not batch:
                continue
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(
                    self.executor, self.run, [item for item, _ in batch]
                )
            except asyncio.CancelledError:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(RuntimeError("the server is shutting down"))
                raise
            except Exception as err:  # one failing batch fails its calls, not the server
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            if self.on_batch is not None:
                self.on_batch(len(batch), time.perf_counter() - start)
