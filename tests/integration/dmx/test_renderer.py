"""Render loop behaviour with in-memory outputs (two emulated widgets for cross-universe timing)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from testkit.enttec import EnttecEmulator

from tau.dmx.drivers import EnttecProOutput, VirtualOutput
from tau.dmx.render import Renderer
from tau.dmx.types import LightTarget

from .conftest import fixture_patch, running, target

FPS = 44.0


async def _until(renderer: Renderer, predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Wait until `predicate()` holds, re-checking after every frame the renderer sends."""
    framed = asyncio.Event()

    def on_frame(frame_no: int, t: float, universes: frozenset[int]) -> None:
        framed.set()

    renderer.add_frame_listener(on_frame)
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                framed.clear()
                await framed.wait()
    finally:
        renderer.remove_frame_listener(on_frame)


def two_universes() -> tuple[Renderer, VirtualOutput, VirtualOutput]:
    one, two = VirtualOutput(1, history=500), VirtualOutput(2, history=500)
    renderer = Renderer({1: one, 2: two}, FPS)
    renderer.set_patch(
        [
            fixture_patch(1, ("dimmer",), universe=1, start=1),
            fixture_patch(2, ("dimmer",), universe=2, start=5),
            fixture_patch(3, ("warm", "cool"), universe=2, start=7),
        ]
    )
    return renderer, one, two


async def test_state_applied_before_start_is_the_first_frame() -> None:
    renderer, one, two = two_universes()
    renderer.apply([target(1, 200), target(2, 100)])
    async with running(renderer):
        assert one.history[0][0] == 200
        assert two.history[0][4] == 100
        assert one.frame_count == 1


async def test_a_batch_spanning_two_universes_lands_in_one_frame() -> None:
    renderer, one, two = two_universes()
    seen: list[tuple[int, frozenset[int]]] = []
    renderer.add_frame_listener(lambda n, t, universes: seen.append((n, universes)))
    async with running(renderer):
        await asyncio.sleep(0.05)
        frame_no = renderer.apply([target(1, 255), target(2, 255), target(3, 128, kelvin=2700)])
        await _until(renderer, lambda: renderer.frame_no >= frame_no)
        assert (frame_no, frozenset({1, 2})) in seen
        assert one.last_frame[0] == 255
        assert two.last_frame[4:8] == bytes((255, 0, 128, 0))


async def test_two_widgets_change_in_the_same_tick(tmp_path: Path) -> None:
    with EnttecEmulator(tmp_path / "a") as a, EnttecEmulator(tmp_path / "b") as b:
        renderer = Renderer(
            {1: EnttecProOutput(1, a.port, fps=FPS), 2: EnttecProOutput(2, b.port, fps=FPS)}, FPS
        )
        renderer.set_patch(
            [fixture_patch(1, ("dimmer",), universe=1), fixture_patch(2, ("dimmer",), universe=2)]
        )
        async with running(renderer):
            await a.wait_for_frames_async(1)
            await b.wait_for_frames_async(1)
            renderer.apply([target(1, 250), target(2, 250)])
            fa = await a.wait_for_slots_async({1: 250})
            fb = await b.wait_for_slots_async({1: 250})
        assert abs(fa.t - fb.t) < 0.5 / FPS
        assert a.errors == b.errors == []


async def test_idle_sends_nothing() -> None:
    renderer, one, _ = two_universes()
    async with running(renderer):
        renderer.apply([target(1, 10)])
        await _until(renderer, lambda: one.last_frame[0] == 10)
        frames, sent = renderer.frame_no, one.frame_count
        await asyncio.sleep(0.3)
        assert renderer.frame_no == frames
        assert one.frame_count == sent


async def test_only_changed_universes_are_sent() -> None:
    renderer, one, two = two_universes()
    async with running(renderer):
        before = two.frame_count
        renderer.apply([target(1, 50, transition_s=0.2)])
        await _until(renderer, lambda: one.last_frame[0] == 50)
        assert one.frame_count > 5
        assert two.frame_count == before


def test_live_reports_mid_fade_values() -> None:
    """On the renderer's injected clock: no loop, no waiting, the fade at chosen instants."""
    now = [100.0]
    renderer = Renderer({1: VirtualOutput(1)}, FPS, clock=lambda: now[0])
    renderer.set_patch([fixture_patch(3, ("warm", "cool"))])
    assert renderer.live(3) is None
    renderer.apply([target(3, 255, kelvin=2700)])
    renderer.apply([target(3, 0, kelvin=6500, transition_s=0.4)])
    start = renderer.live(3)
    assert start is not None and start.brightness == 255
    now[0] += 0.2
    live = renderer.live(3)
    assert live is not None
    assert 60 < live.brightness < 195
    now[0] += 0.2
    final = renderer.live(3)
    assert final is not None
    assert final.brightness == 0


async def test_retarget_mid_fade_continues_from_the_current_value() -> None:
    renderer, one, _ = two_universes()
    async with running(renderer):
        renderer.apply([target(1, 255, transition_s=0.5)])
        await _until(renderer, lambda: one.last_frame[0] >= 100)  # under way, not done
        renderer.apply([target(1, 0, transition_s=0.3)])
        await _until(renderer, lambda: one.last_frame[0] == 0)
    values = [f[0] for f in one.history]
    peak = values.index(max(values))
    assert values[: peak + 1] == sorted(values[: peak + 1])
    assert values[peak:] == sorted(values[peak:], reverse=True)
    assert 80 < max(values) < 180  # turned round mid-way, no jump to 255 or 0


async def test_repatch_clears_removed_and_moves_fixtures() -> None:
    renderer, _, two = two_universes()
    async with running(renderer):
        renderer.apply([target(2, 255), target(3, 255, kelvin=2700)])
        await _until(renderer, lambda: two.last_frame[4] == 255 and two.last_frame[6] == 255)
        renderer.set_patch(
            [
                fixture_patch(1, ("dimmer",), universe=1, start=1),
                fixture_patch(2, ("dimmer",), universe=2, start=100),  # moved
            ]
        )  # fixture 3 removed
        await _until(renderer, lambda: two.last_frame[99] == 255)
        assert two.last_frame[4] == 0
        assert two.last_frame[6:8] == bytes(2)


async def test_outputs_can_be_swapped_on_reload() -> None:
    renderer, one, two = two_universes()
    async with running(renderer):
        renderer.apply([target(2, 90)])
        await _until(renderer, lambda: two.last_frame[4] == 90)
        three = VirtualOutput(2)
        renderer.set_outputs({1: one, 2: three})
        await _until(renderer, lambda: three.last_frame[4] == 90)
        assert two.closed
        assert not one.closed
        assert set(renderer.status()) == {1, 2}
    assert one.closed
    assert three.closed


async def test_stop_sends_the_pending_frame() -> None:
    renderer, one, _ = two_universes()
    await renderer.start()
    renderer.apply([target(1, 33)])
    await renderer.stop()
    assert one.last_frame[0] == 33
    assert one.closed


async def test_status_lists_every_universe() -> None:
    renderer, _, _ = two_universes()
    async with running(renderer):
        status = renderer.status()
    assert status[1] == {
        "driver": "virtual",
        "state": "ok",
        "detail": "in-memory universe",
        "frames_sent": 1,
        "last_error": None,
    }


async def test_an_unknown_curve_renders_linear_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = VirtualOutput(1)
    renderer = Renderer({1: out}, FPS)
    renderer.set_patch([fixture_patch(1, ("dimmer",), curve="cubic")])
    renderer.apply([target(1, 128)])
    async with running(renderer):
        assert out.last_frame[0] == 128
    assert "event=bad_curve fixture=1" in caplog.text


async def test_a_command_on_an_idle_renderer_goes_out_inside_apply() -> None:
    renderer, one, _ = two_universes()
    async with running(renderer):
        await asyncio.sleep(0.1)  # idle: a frame slot is free
        sent = one.frame_count
        frame_no = renderer.apply([target(1, 77)])
        # No await in between: the frame was rendered and handed to the output in the call.
        assert renderer.frame_no == frame_no
        assert one.frame_count == sent + 1
        assert one.last_frame[0] == 77


async def test_a_fade_started_by_an_in_call_frame_keeps_running() -> None:
    renderer, one, _ = two_universes()
    async with running(renderer):
        await asyncio.sleep(0.1)
        renderer.apply([target(1, 200, transition_s=0.3)])
        await _until(renderer, lambda: one.last_frame[0] == 200)
    values = [f[0] for f in one.history]
    assert values == sorted(values)
    assert len(set(values)) > 5  # a ramp, not one jump at the end


async def test_a_slow_8bit_fade_renders_only_when_its_bytes_can_move() -> None:
    """A 3 s fade over 3 byte steps (~132 frames): the bytes still walk one step at a time,
    in order, and arrive on time, but the fixture is rendered every 1/8 step (~24 times)."""
    renderer, one, _ = two_universes()
    renders: list[int] = []
    async with running(renderer):
        renderer.apply([target(1, 100)])
        await _until(renderer, lambda: one.last_frame[0] == 100)
        original = renderer._render

        def counting(patch, level):  # type: ignore[no-untyped-def]
            renders.append(patch.fixture_id)
            original(patch, level)

        renderer._render = counting  # type: ignore[method-assign]
        start, t0 = one.frame_count, asyncio.get_running_loop().time()
        renderer.apply([target(1, 103, transition_s=3.0)])
        await _until(renderer, lambda: one.last_frame[0] == 103, timeout_s=4.0)
        took = asyncio.get_running_loop().time() - t0
    values = [f[0] for f in one.history[start - 1 :]]
    assert values == [100, 101, 102, 103], values  # every step once, in order
    assert 2.5 < took < 3.5, took
    assert 10 <= len(renders) <= 40, len(renders)  # not once per frame (~132)


def slow_pair() -> tuple[Renderer, VirtualOutput, VirtualOutput]:
    """Universe 1 takes frames any time (like a USB Pro), universe 2 keeps to 4 fps."""
    one, two = VirtualOutput(1, history=50), VirtualOutput(2, history=50)
    one.instant = True
    renderer = Renderer({1: one, 2: two}, 4.0)
    renderer.set_patch(
        [fixture_patch(1, ("dimmer",), universe=1), fixture_patch(2, ("dimmer",), universe=2)]
    )
    return renderer, one, two


async def test_a_command_between_slots_goes_out_at_once_on_an_instant_output() -> None:
    renderer, one, _ = slow_pair()
    async with running(renderer):
        renderer.apply([target(1, 10)])  # takes the free slot; the next is 250 ms away
        assert one.last_frame[0] == 10
        sent = one.frame_count
        frame_no = renderer.apply([target(1, 20)])
        assert renderer.frame_no == frame_no  # sent inside the call, between slots
        assert one.frame_count == sent + 1
        assert one.last_frame[0] == 20


async def test_a_batch_touching_a_paced_output_waits_for_the_slot_whole() -> None:
    renderer, one, two = slow_pair()
    async with running(renderer):
        renderer.apply([target(1, 10), target(2, 10)])
        await _until(renderer, lambda: two.last_frame[0] == 10, timeout_s=1.0)
        sent_one, sent_two = one.frame_count, two.frame_count
        frame_no = renderer.apply([target(1, 30), target(2, 30)])
        # Universe 2 keeps to its slots, so the batch is not split: both wait.
        assert (one.frame_count, two.frame_count) == (sent_one, sent_two)
        assert one.last_frame[0] == 10
        await _until(renderer, lambda: renderer.frame_no >= frame_no, timeout_s=1.0)
        assert one.last_frame[0] == two.last_frame[0] == 30
        assert (one.frame_count, two.frame_count) == (sent_one + 1, sent_two + 1)


async def test_an_instant_frame_leaves_fades_on_their_slots() -> None:
    """A command between slots sends only what commands changed: a fade running on the
    same universe is not advanced by it, and keeps to the frame rate."""
    one = VirtualOutput(1, history=200)
    one.instant = True
    renderer = Renderer({1: one}, 20.0)
    renderer.set_patch([fixture_patch(1, ("dimmer",)), fixture_patch(2, ("dimmer",), start=2)])
    times: list[float] = []
    renderer.add_frame_listener(lambda n, t, universes: times.append(t))
    async with running(renderer):
        renderer.apply([target(1, 250, transition_s=0.5)])
        for value in (5, 6, 7, 8):
            await asyncio.sleep(0.013)
            renderer.apply([target(2, value)])
        await _until(renderer, lambda: one.last_frame[0] == 250)
    fade = [f[0] for f in one.history]
    assert fade == sorted(fade)
    assert [f[1] for f in one.history][-1] == 8
    # Frames: about 10 on the 20 fps grid for the fade, plus the four instant ones.
    assert 10 <= len(times) <= 17, len(times)


async def test_a_universe_taken_over_starts_from_the_current_levels_not_black() -> None:
    """Another bridge sends universe 2 at first: its fixtures follow every command but are
    rendered only once this renderer gets an output there (a standby taking over)."""
    one, two = VirtualOutput(1, history=500), VirtualOutput(2, history=500)
    renderer = Renderer({1: one}, FPS)
    renderer.set_patch(
        [
            fixture_patch(1, ("dimmer",), universe=1, start=1),
            fixture_patch(2, ("dimmer",), universe=2, start=5),
        ]
    )
    async with running(renderer):
        renderer.apply([target(1, 200), target(2, 100)])
        await _until(renderer, lambda: one.last_frame[0] == 200)
        assert renderer.frame(2)[4] == 100  # asked for, rendered on demand
        renderer.apply([target(2, 60)])  # deferred: no output here for universe 2
        renderer.set_outputs({1: one, 2: two})  # the lease for universe 2 is ours now
        await _until(renderer, lambda: two.frame_count >= 1)
        assert two.history[0][4] == 60  # its first frame: the newest level, no black
        assert all(frame[4] == 60 for frame in two.history)


async def test_an_effect_runs_in_step_on_two_universes_and_stops_with_the_next_target() -> None:
    renderer, one, two = two_universes()
    breathe = [
        LightTarget(fid, True, 255, None, None, 0.0, "breathe") for fid in (1, 2)
    ]  # periodic: the same seed-free phase everywhere
    async with running(renderer):
        renderer.apply(breathe)
        assert renderer.effect(1) == "breathe"
        await _until(renderer, lambda: len(one.history) >= 25 and len(two.history) >= 25, 4.0)
        # every frame carried both universes, at the same level
        pairs = list(zip(one.history[-20:], two.history[-20:], strict=True))
        assert all(a[0] == b[4] for a, b in pairs), [(a[0], b[4]) for a, b in pairs]
        assert len({a[0] for a, _ in pairs}) > 5
        renderer.apply([target(1, 90), target(2, 90)])
        assert renderer.effect(1) is None
        sent = len(one.history)
        await asyncio.sleep(0.2)  # steady: nothing more to send
        assert one.last_frame[0] == 90 and two.last_frame[4] == 90
        assert len(one.history) <= sent + 1
