"""Art-Net and sACN drivers against strict loopback receivers."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

from testkit.receivers import ArtNetReceiver, SacnReceiver, decode_artdmx, decode_e131

from tau.dmx.drivers import ArtNetOutput, SacnOutput, build_output
from tau.dmx.drivers.artnet import artdmx_packet
from tau.dmx.drivers.sacn import e131_packet, multicast_address, stable_cid
from tau.dmx.render import Renderer
from tau.settings import ArtNetOutput as ArtNetConfig
from tau.settings import SacnOutput as SacnConfig

from .conftest import fixture_patch, running, target

FPS = 44.0


async def test_artnet_packets_decode_exactly() -> None:
    with ArtNetReceiver() as rx:
        # net 0x12, sub-net 3, universe 4
        config = ArtNetConfig(driver="artnet", host=rx.host, port=rx.port, universe=0x1234)
        renderer = Renderer({1: build_output(1, config)}, FPS)
        renderer.set_patch([fixture_patch(1, ("dimmer", "dimmer_fine"), start=511)])
        renderer.apply([target(1, 128)])
        async with running(renderer):
            renderer.apply([target(1, 255)])
            last = await rx.wait_for_packet_async(lambda p: p.data[510] == 255)
        assert rx.errors == []
        first = rx.packets[0]
        assert first.data[510:512] == bytes((0x80, 0x80))
        assert len(first.data) == 512
        assert (first.net, first.subnet, first.universe) == (0x12, 3, 4)
        assert first.physical == 0
        assert first.sequence == 1
        assert last.sequence == 2
        assert last.data == bytes(510) + b"\xff\xff"


def test_artnet_sequence_wraps_from_255_to_1_and_never_uses_0() -> None:
    output = ArtNetOutput(1, "127.0.0.1", 9)
    sent: list[int] = []
    output._sendto = lambda payload: sent.append(payload[12])  # type: ignore[method-assign]
    for _ in range(300):
        output.send(bytes(512))
    assert sent[:3] == [1, 2, 3]
    assert sent[254:257] == [255, 1, 2]
    assert 0 not in sent


def test_artnet_layout_bytes() -> None:
    packet = artdmx_packet(7, 0x7FFF, bytes(range(256)) * 2)
    assert packet[:18] == b"Art-Net\x00\x00\x50\x00\x0e\x07\x00\xff\x7f\x02\x00"
    assert decode_artdmx(packet, 0.0).port_address == 0x7FFF


async def test_artnet_keep_alive_resends_about_every_second() -> None:
    with ArtNetReceiver() as rx:
        output = ArtNetOutput(1, rx.host, rx.port)
        async with running(Renderer({1: output}, FPS)):
            assert await rx.wait_for_async(lambda: len(rx.packets) >= 3, timeout_s=3.5)
        times = [p.t for p in rx.snapshot()[:3]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(0.9 <= g <= 1.2 for g in gaps), gaps
        assert rx.errors == []


async def test_sacn_packets_decode_exactly() -> None:
    with SacnReceiver() as rx:
        config = SacnConfig(
            driver="sacn", host=rx.host, port=rx.port, universe=7, priority=150, source_name="Hall"
        )
        renderer = Renderer({1: build_output(1, config)}, FPS)
        renderer.set_patch([fixture_patch(1, ("red", "green", "blue"), start=1)])
        async with running(renderer):
            renderer.apply([target(1, 255, color=(255, 0, 128))])
            await rx.wait_for_packet_async(lambda p: p.data[0] == 255)
        assert await rx.wait_for_async(lambda: sum(p.terminated for p in rx.packets) == 3)
        assert rx.errors == []
        packets = rx.snapshot()
        p = packets[-4]  # the last data packet before the three terminations
        assert p.data[:3] == bytes((255, 0, 128))
        assert p.universe == 7
        assert p.priority == 150
        assert p.source_name == "Hall"
        assert p.sync_address == 0
        assert p.cid == stable_cid("Hall")
        assert not p.terminated
        assert [q.sequence for q in packets] == list(range(1, len(packets) + 1))


async def test_sacn_terminates_the_stream_on_stop() -> None:
    with SacnReceiver() as rx:
        renderer = Renderer({1: SacnOutput(1, rx.host, rx.port, sacn_universe=2)}, FPS)
        renderer.set_patch([fixture_patch(1, ("dimmer",))])
        async with running(renderer):
            renderer.apply([target(1, 99)])
            await rx.wait_for_packet_async(lambda p: p.data[0] == 99)
        assert await rx.wait_for_async(lambda: sum(p.terminated for p in rx.packets) == 3)
        packets = rx.snapshot()
        assert [p.terminated for p in packets[-3:]] == [True, True, True]
        assert not any(p.terminated for p in packets[:-3])
        assert all(p.data[0] == 99 for p in packets[-3:])
        assert rx.errors == []


async def test_sacn_keep_alive_and_sequence_per_packet() -> None:
    with SacnReceiver() as rx:
        output = SacnOutput(1, rx.host, rx.port, sacn_universe=1)
        async with running(Renderer({1: output}, FPS)):
            start = time.monotonic()
            assert await rx.wait_for_async(lambda: len(rx.packets) >= 2, timeout_s=2.5)
            assert time.monotonic() - start < 1.5
        packets = rx.snapshot()
        assert packets[1].t - packets[0].t <= 1.1
        assert packets[1].sequence == packets[0].sequence + 1


def test_sacn_layout_and_multicast_addressing() -> None:
    cid = uuid.UUID(int=1)
    packet = e131_packet(
        cid=cid, source_name="Tau", priority=100, sequence=9, universe=300, frame=bytes(512)
    )
    assert len(packet) == 638
    assert packet[16:18] == b"\x72\x6e"  # flags 0x7, root length 622
    assert packet[38:40] == b"\x72\x58"  # framing length 600
    assert packet[115:117] == b"\x72\x0b"  # DMP length 523
    decoded = decode_e131(packet, 0.0)
    assert (decoded.universe, decoded.sequence, decoded.cid) == (300, 9, cid)
    assert multicast_address(1) == "239.255.0.1"
    assert multicast_address(300) == "239.255.1.44"
    assert SacnOutput(1, None, sacn_universe=300).host == "239.255.1.44"
    assert stable_cid("Tau", "host-a") == stable_cid("Tau", "host-a") != stable_cid("Tau", "b")


async def test_udp_output_to_an_unreachable_host_does_not_stop_the_loop() -> None:
    output = ArtNetOutput(1, "256.1.1.1", 6454)  # not an address: every send fails
    renderer = Renderer({1: output}, FPS)
    renderer.set_patch([fixture_patch(1, ("dimmer",))])
    async with running(renderer):
        renderer.apply([target(1, 10)])
        await asyncio.sleep(0.05)
        status = renderer.status()[1]
    assert status["state"] != "ok"
    assert "256.1.1.1" in str(status["detail"])
