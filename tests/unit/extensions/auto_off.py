"""An example extension, the size of a real one: turn a fixture off N seconds after it
was turned on (a stairwell timer).

It shows the whole interface: a topic it owns (`<base>/auto_off/<slug>/set`,
payload: seconds, `0` cancels), an event it reacts to (`ChangeBatch`), a clock
and a poll it is driven by, and commands it hands the state store. Registering
it is one line in the list of extensions (see test_example_extension.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.extension import Context, EventHandler, Extension
from tau.errors import InvalidCommandError, UnknownTargetError


class AutoOffExtension(Extension):
    name = "auto_off"
    topics = {"auto_off/+/set": "auto_off_set"}

    def __init__(self, ctx: Context, clock: Callable[[], float]) -> None:
        self._store = ctx.store
        self._clock = clock
        self._after_s: dict[int, float] = {}  # fixture id -> seconds it may stay on
        self._due: dict[int, float] = {}  # fixture id -> when it goes off

    def events(self) -> Iterable[EventHandler]:
        return [(ChangeBatch, self._changed)]

    def on_message(self, kind: str, name: str, payload: bytes) -> None:
        fid = self._store.installation.fixture_by_slug.get(name)
        if fid is None:
            raise UnknownTargetError(f"unknown fixture {name!r}")
        try:
            seconds = float(payload)
        except ValueError:
            raise InvalidCommandError("auto_off takes a number of seconds") from None
        if not 0 <= seconds <= 86_400:
            raise InvalidCommandError("auto_off must be within 0..86400 seconds")
        if seconds:
            self._after_s[fid] = seconds
        else:
            self._after_s.pop(fid, None)
            self._due.pop(fid, None)

    def _changed(self, batch: ChangeBatch) -> None:
        for fid in batch.fixture_ids & self._after_s.keys():
            if not self._store.fixture(fid).is_on:
                self._due.pop(fid, None)
            elif batch.reason != self.name:
                self._due[fid] = self._clock() + self._after_s[fid]

    def poll(self) -> None:
        """Turn off what is due (a real extension would run this from a timer in start())."""
        now = self._clock()
        for fid, due in sorted(self._due.items()):
            if due <= now:
                del self._due[fid]
                self._store.command(("fixture", fid), LightCommand(state="OFF"), reason=self.name)
