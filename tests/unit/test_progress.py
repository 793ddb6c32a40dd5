"""Progress bars redraw a few times per bar, not thousands, when output is not a terminal."""

import io

import pytest

from monde.progress import LOG_INTERVAL_S, tqdm


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def redraws(stream: io.StringIO, seconds_per_step: float, steps: int) -> int:
    """Redraws of a bar over `steps` updates, one every `seconds_per_step` (a fake clock)."""
    clock = FakeClock()
    bar = tqdm(total=steps, file=stream, desc="train")
    bar._time = clock  # tqdm reads the time through this attribute
    bar.last_print_t = bar.start_t = 0.0
    for step in range(steps):
        clock.now += seconds_per_step
        bar.update(1)
        if step % 50 == 0:  # as training does: the loss every 50 steps
            bar.set_postfix(loss=f"{step:.4f}")
    bar.close()
    return stream.getvalue().count("\r")


def test_a_log_gets_few_lines_per_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONDE_PROGRESS_INTERVAL", raising=False)
    # 3 000 steps at 0.25 s each: 750 s of training
    assert redraws(io.StringIO(), 0.25, 3000) <= 750 / LOG_INTERVAL_S + 3
    assert redraws(Terminal(), 0.25, 3000) > 1000  # a terminal keeps tqdm's live bar


def test_the_interval_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONDE_PROGRESS_INTERVAL", "300")
    assert redraws(io.StringIO(), 0.25, 3000) <= 5
    monkeypatch.setenv("MONDE_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ValueError, match="MONDE_PROGRESS_INTERVAL"):
        tqdm(total=1, file=io.StringIO())
