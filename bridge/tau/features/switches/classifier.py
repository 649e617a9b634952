"""Raw press/release edges → single / double / hold / release: a pure state machine.

Inputs that only report `press` and `release` (a GPIO or contact publisher) are
classified here, as the original system did: double-tap window 200-900 ms
(default 500), hold after `hold_ms`.
"""

from __future__ import annotations

from typing import Literal


class PressClassifier:
    """Turns raw press/release edges into single / double / hold / release events.

    Pure: every call carries its timestamp (monotonic seconds) and returns the
    events due by then. The double-tap window runs from the first release to the
    second press; `hold` is emitted once the button stays down `hold_ms`.
    """

    def __init__(
        self, double_tap_ms: int = 500, hold_ms: int = 500, *, single_immediately: bool = False
    ) -> None:
        self.window_s = min(max(double_tap_ms, 200), 900) / 1000
        self.hold_s = max(hold_ms, 50) / 1000
        self.single_immediately = single_immediately
        self._state: Literal["idle", "pressed", "held", "released"] = "idle"
        self._since = 0.0
        self._taps = 0

    @property
    def pressed(self) -> bool:
        return self._state in ("pressed", "held")

    def next_deadline(self) -> float | None:
        if self._state == "pressed":
            return self._since + self.hold_s
        if self._state == "released":
            return self._since + self.window_s
        return None

    def poll(self, t: float) -> list[str]:
        deadline = self.next_deadline()
        if deadline is None or t < deadline:
            return []
        if self._state == "pressed":
            self._state = "held"
            # A tap followed by a hold: the tap still counts on its own.
            return ["single", "hold"] if self._taps == 2 else ["hold"]
        self._state = "idle"
        return ["single"]

    def press(self, t: float) -> list[str]:
        events = self.poll(t)
        if self._state in ("idle", "released"):
            self._taps = 2 if self._state == "released" else 1
            self._state, self._since = "pressed", t
        return events  # a press while already down is a bounce: ignored

    def release(self, t: float) -> list[str]:
        events = self.poll(t)
        if self._state == "held":
            self._state = "idle"
            events.append("release")
        elif self._state == "pressed":
            if self._taps == 2:
                self._state = "idle"
                events.append("double")
            elif self.single_immediately:
                self._state = "idle"
                events.append("single")
            else:
                self._state, self._since = "released", t
        return events  # a release while up is stray: ignored


def same_timing(a: PressClassifier, b: PressClassifier) -> bool:
    return (a.window_s, a.hold_s, a.single_immediately) == (
        b.window_s,
        b.hold_s,
        b.single_immediately,
    )
