"""A fake monotonic clock for the injectable clocks and sleepers (`CallOptions.clock`/`.sleep`,
the throttle gates): waits are recorded and move the time on, nothing sleeps."""

from __future__ import annotations


class Clock:
    """`clock()` is the time; `clock.sleep(s)` records the wait in `slept` and moves it on;
    `clock.advance(s)` is time passing without anyone waiting (e.g. a user coming back)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
