"""The render loop: one clock at `fps`, fades evaluated per frame, changed universes sent.

Idle, the loop sleeps on an event (no CPU) until `apply()` or a driver's keep-alive
is due. A batch from `apply()` lands whole in the next frame, which goes out at
once if a frame period has passed since the previous one, else at the next slot,
unless every output it touches is `instant` (the widget refreshes the line itself):
then it goes out at once too, and only fades keep to the slots.
What a frame shows (patches, levels, fades, effects, the universes' bytes) is
`tau.dmx.universes.Universes`, which `Renderer` extends.
Call every method from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from tau.dmx.drivers.base import SLOTS, Output
from tau.dmx.fades import start_fade
from tau.dmx.level import Level, brightness_to_level16
from tau.dmx.types import LightTarget
from tau.dmx.universes import Universes
from tau.supervisor import Spawn, checkpoint, finish, unsupervised

log = logging.getLogger("tau.dmx.render")

FrameListener = Callable[[int, float, frozenset[int]], None]


class Renderer(Universes):
    """The render loop over `Universes`: the fps clock, the outputs, the commands."""

    def __init__(
        self,
        outputs: Mapping[int, Output],
        fps: float,
        clock: Callable[[], float] = time.monotonic,
        effect_clock: Callable[[], float] = time.time,
        effect_fps: float = 25.0,
    ) -> None:
        super().__init__(outputs, clock, effect_clock)
        self._outputs: dict[int, Output] = dict(outputs)
        self._instant = frozenset(u for u, o in outputs.items() if o.instant)
        self._period = 1.0 / fps
        # Effects are rendered at most at `effect_fps` (flicker reads as a flame from
        # about 20 fps): a DMX line's refresh is left to commands and fades.
        self._effect_period = 1.0 / min(effect_fps, fps)
        self._next_effect_t = float("-inf")
        self._sent: dict[int, bytes] = {}
        self._force: set[int] = set()  # universes to send at the next frame regardless
        self._listeners: list[FrameListener] = []
        self._frame_no = 0
        self._last_frame_t = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._output_tasks: set[asyncio.Task[None]] = set()
        self._started = False

    # -- configuration -----------------------------------------------------------

    def set_outputs(self, outputs: Mapping[int, Output]) -> None:
        """Swap outputs after a reload: removed ones are closed, new ones opened and sent
        the current frame. Outputs that are the same object are kept as they are."""
        old, self._outputs = self._outputs, dict(outputs)
        self._instant = frozenset(u for u, o in self._outputs.items() if o.instant)
        closing = [o for u, o in old.items() if self._outputs.get(u) is not o]
        opening = [(u, o) for u, o in self._outputs.items() if old.get(u) is not o]
        for universe, _ in opening:
            self._buffers.setdefault(universe, bytearray(SLOTS))
            self._sent.pop(universe, None)
            self._dirty |= self._deferred_on(universe)
        if not self._started:
            return
        for output in closing:
            self._spawn(self._close_output(output))
        for universe, output in opening:
            self._spawn(self._open_then_send(universe, output))

    def add_frame_listener(self, cb: FrameListener) -> None:
        """Call `cb(frame_no, monotonic time, universes sent)` after every frame."""
        self._listeners.append(cb)

    def remove_frame_listener(self, cb: FrameListener) -> None:
        self._listeners.remove(cb)

    # -- commands and queries ----------------------------------------------------

    def apply(self, targets: Sequence[LightTarget]) -> int:
        """Start every target's fade now; the whole batch lands in the returned frame."""
        now = self._clock()
        for target in targets:
            current = self._current(target.fixture_id, now)
            end = _target_level(target, current)
            if target.transition_s > 0:
                fade = start_fade(current, end, now, target.transition_s)
                self._fades[target.fixture_id] = fade
                interval = self._render_interval(target.fixture_id, fade)
                self._next_render[target.fixture_id] = (now, interval)
            else:
                self._fades.pop(target.fixture_id, None)
                self._next_render.pop(target.fixture_id, None)
            self._levels[target.fixture_id] = end
            if target.effect is not None and target.is_on:
                seed = target.fixture_id if target.effect_seed is None else target.effect_seed
                self._effects[target.fixture_id] = (target.effect, seed)
            else:
                self._effects.pop(target.fixture_id, None)
            self._dirty.add(target.fixture_id)
        frame = self._frame_no + 1
        if self._task is not None:
            # Render and send now, inside the command's own call, before its MQTT state is
            # even encoded (the command's latency is this call): when a frame slot is free,
            # or between slots when every output the batch touches takes frames any time.
            if now >= self._last_frame_t + self._period:
                self._safe_tick(now)
            elif self._all_instant(self._dirty):
                self._safe_tick(now, instant=True)
        self._wake.set()  # the loop carries on any fade this batch started
        return frame

    @property
    def frame_no(self) -> int:
        return self._frame_no

    def status(self) -> dict[int, dict[str, object]]:
        out: dict[int, dict[str, object]] = {}
        for universe, output in sorted(self._outputs.items()):
            st = output.status
            out[universe] = {
                "driver": output.driver,
                "state": st.state,
                "detail": st.detail,
                "frames_sent": st.frames_sent,
                "last_error": st.last_error,
            }
        return out

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, spawn: Spawn = unsupervised) -> None:
        """Open outputs (failures are in `status`, never raised), send the first frame with
        what `apply()` already set, then run the loop (the part `render`: a loop that
        dies is restarted by the supervisor, and commands still send their own frames
        meanwhile)."""
        self._started = True
        await asyncio.gather(*(self._open(u, o) for u, o in self._outputs.items()))
        self._force.update(self._outputs)
        self._tick(self._clock())
        self._task = spawn("render", self._run)

    async def stop(self) -> None:
        """Send what is pending as a final frame, then close every output."""
        task, self._task = self._task, None
        await finish([task], "render")
        if self._started and (self._dirty or self._fades or self._effects):
            self._tick(self._clock())
        for pending in list(self._output_tasks):  # opens and closes under way: let them end
            try:
                await pending
            except Exception:  # they log their own failures; this would be a bug
                log.exception("an output task failed event=output_error")
        await asyncio.gather(*(self._close_output(o) for o in self._outputs.values()))
        self._started = False

    # -- the loop ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            checkpoint("render")
            if not self._dirty and not self._fades and not self._force and not self._effects:
                self._wake.clear()
                timeout = self._keepalive_wait(self._clock())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            now = self._clock()
            due = self._last_frame_t + self._period
            if now < due:
                await asyncio.sleep(due - now)
                continue  # look again: `apply()` may have sent a frame meanwhile
            if self._dirty or self._fades or self._force or self._effects:
                self._safe_tick(now)
            try:
                self._keepalives(now)
            except Exception:
                log.exception("keep-alive error event=render_error frame=%d", self._frame_no)

    def _safe_tick(self, now: float, instant: bool = False) -> None:
        try:
            self._tick(now, instant)
        except Exception:
            # A bug in one frame must not leave the lights frozen for good.
            log.exception("render loop error event=render_error frame=%d", self._frame_no)
            self._dirty.clear()

    def _tick(self, now: float, instant: bool = False) -> None:
        """Render one frame at `now` and send every universe whose bytes changed.

        An `instant` frame goes out between slots: it renders only the fixtures commands
        changed, sends only to `instant` outputs and leaves the fps grid (and the fades
        paced on it) alone.
        """
        self._frame_no += 1
        if not instant:
            self._advance(now)
        outputs = self._outputs
        for fixture_id in self._dirty:
            patch = self._patches.get(fixture_id)
            if patch is None:
                continue
            if patch.universe in outputs:
                self._render(patch, self._shown(fixture_id, now))
            else:
                self._deferred.add(fixture_id)
        self._dirty.clear()
        sent = set()
        for universe, output in self._outputs.items():
            if instant and not output.instant:
                continue
            data = bytes(self._buffers[universe])
            if universe in self._force or self._sent.get(universe) != data:
                self._send(universe, output, data)
                sent.add(universe)
        if instant:
            self._force.difference_update(sent)
        else:
            self._force.clear()
        universes = frozenset(sent)
        for cb in self._listeners:
            try:
                cb(self._frame_no, now, universes)
            except Exception:
                log.exception("frame listener %r failed event=listener_error", cb)

    def _all_instant(self, fixture_ids: Iterable[int]) -> bool:
        """Whether every universe these fixtures are patched on takes frames any time."""
        instant = self._instant
        if not instant:
            return False
        patches = self._patches
        return all((p := patches.get(f)) is None or p.universe in instant for f in fixture_ids)

    def _advance(self, now: float) -> None:
        """Step the fps grid to `now` and mark the fades due for a render."""
        # Keep to the fps grid while fading; after idle, restart the grid at `now`.
        grid = self._last_frame_t + self._period
        self._last_frame_t = grid if now - grid < self._period / 2 else now
        for fixture_id, fade in list(self._fades.items()):
            if fade.done(now):
                del self._fades[fixture_id]
                self._next_render.pop(fixture_id, None)
                self._dirty.add(fixture_id)
            else:
                due, interval = self._next_render.get(fixture_id, (now, 0.0))
                if due <= now:
                    self._dirty.add(fixture_id)
                    self._next_render[fixture_id] = (now + interval, interval)
        if self._effects and now >= self._next_effect_t:
            self._dirty.update(self._effects)
            # Half a frame early, so a 25 fps budget on a 44 fps grid is every 2nd frame.
            self._next_effect_t = now + self._effect_period - self._period / 2

    def _send(self, universe: int, output: Output, data: bytes) -> None:
        try:
            output.send(data)
        except Exception:
            log.exception(
                "sending universe %d failed event=output_error universe=%d driver=%s",
                universe,
                universe,
                output.driver,
            )
        self._sent[universe] = data

    def _keepalive_wait(self, now: float) -> float | None:
        dues = [
            d
            for u, o in self._outputs.items()
            if u in self._sent and (d := o.keepalive_due(now)) is not None
        ]
        return max(0.0, min(dues) - now) if dues else None

    def _keepalives(self, now: float) -> None:
        for universe, output in self._outputs.items():
            due = output.keepalive_due(now)
            if due is not None and due <= now and universe in self._sent:
                try:
                    output.keepalive()
                except Exception:
                    log.exception("keep-alive failed event=output_error universe=%d", universe)

    # -- helpers -----------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._output_tasks.add(task)
        task.add_done_callback(self._output_tasks.discard)

    async def _open(self, universe: int, output: Output) -> None:
        try:
            await output.open()
        except Exception:
            log.exception(
                "opening universe %d failed event=output_error universe=%d driver=%s",
                universe,
                universe,
                output.driver,
            )

    async def _open_then_send(self, universe: int, output: Output) -> None:
        await self._open(universe, output)
        if self._outputs.get(universe) is output:
            self._force.add(universe)
            self._wake.set()

    @staticmethod
    async def _close_output(output: Output) -> None:
        try:
            await output.close()
        except Exception:
            log.exception("closing an output failed event=output_error driver=%s", output.driver)


def _target_level(target: LightTarget, current: Level) -> Level:
    """Where a command takes the fixture: colour follows the command's mode, else stays."""
    level16 = brightness_to_level16(target.brightness) if target.is_on else 0
    if target.color is not None:
        rgb: tuple[float, ...] | None = tuple(float(c) for c in target.color)
        kelvin = float(target.kelvin) if target.kelvin is not None else current.kelvin
    elif target.kelvin is not None:
        rgb, kelvin = None, float(target.kelvin)
    else:
        rgb, kelvin = current.rgb, current.kelvin
    return Level(level16, kelvin, rgb)
