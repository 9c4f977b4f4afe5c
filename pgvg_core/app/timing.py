"""Where the time of a long call goes: seconds per phase (``pgvg demo``'s stages, ``pgvg animate``'s phases)."""

from __future__ import annotations

import time


class PhaseClock:
    """Seconds spent per phase of a call, in order: ``lap(name)`` closes the phase that ends now."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now

    def rounded(self, digits: int) -> dict[str, float]:
        return {name: round(seconds, digits) for name, seconds in self.laps.items()}
