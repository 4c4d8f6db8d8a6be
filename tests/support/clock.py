"""A fake monotonic clock for the injectable clocks and sleepers (`CallOptions.clock`/`.sleep`,
the throttle gates): waits are recorded and move the time on, nothing sleeps."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask

from webapp.microsoft.throttle import RedisThrottleGate
from webapp.web import observability


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


def run_calls_on(app: Flask, clock: Clock) -> None:
    """Make the app's calls to Microsoft wait on `clock`: Retry-After and back-off waits and
    throttle holds are recorded on it instead of slept. Everything else stays the app's own
    call options; the gate is the one the app builds for a store without Redis
    (`throttle.gate_for`), with the same clock."""
    options = app.extensions["call_options"]
    gate = RedisThrottleGate(None, on_wait=observability.record_throttle_wait, clock=clock)
    app.extensions["call_options"] = replace(options, clock=clock, sleep=clock.sleep, gate=gate)
