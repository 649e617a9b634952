import errno

import pytest
import serial

from tau.dmx.drivers import (
    ArtNetOutput,
    EnttecProOutput,
    OpenDmxOutput,
    SacnOutput,
    VirtualOutput,
    build_output,
)
from tau.dmx.drivers.enttec_pro import decode_serial, dmx_packet, packet
from tau.dmx.drivers.serial_port import describe_open_error
from tau.settings import DmxSettings


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (errno.ENOENT, "no such port /dev/ttyUSB0 — is the widget plugged in?"),
        (errno.EACCES, "permission denied on /dev/ttyUSB0 — add the user to the 'dialout' group"),
        (
            errno.EBUSY,
            "/dev/ttyUSB0 is busy — another program (another Tau, ModemManager) has it open",
        ),
    ],
)
def test_open_errors_name_the_port_and_the_fix(code: int, message: str) -> None:
    exc = serial.SerialException(code, "could not open port /dev/ttyUSB0")
    assert describe_open_error("/dev/ttyUSB0", exc) == message


def test_widget_packets() -> None:
    assert packet(10) == b"\x7e\x0a\x00\x00\xe7"
    frame = dmx_packet(bytes(range(256)) * 2)
    assert frame[:5] == b"\x7e\x06\x01\x02\x00"  # 513 data bytes, start code 0
    assert frame[5:7] == b"\x00\x01"
    assert frame[-1] == 0xE7
    assert len(frame) == 5 + 513
    assert decode_serial(bytes((0x78, 0x56, 0x34, 0x12))) == "12345678"


def test_build_output_follows_the_configuration() -> None:
    settings = DmxSettings.model_validate(
        {
            "universes": {
                "1": {"driver": "enttec_pro", "port": "/dev/ttyUSB0"},
                "2": {"driver": "artnet", "host": "10.0.0.50", "universe": 3},
                "3": {"driver": "sacn", "universe": 9, "priority": 120},
                "4": {"driver": "open_dmx", "port": "/dev/ttyUSB1"},
                "5": {"driver": "virtual"},
            }
        }
    )
    outputs = {u: build_output(u, c) for u, c in settings.universes.items()}
    assert isinstance(outputs[1], EnttecProOutput)
    assert outputs[1].port == "/dev/ttyUSB0"
    assert isinstance(outputs[2], ArtNetOutput)
    assert (outputs[2].host, outputs[2].port, outputs[2].port_address) == ("10.0.0.50", 6454, 3)
    assert isinstance(outputs[3], SacnOutput)
    assert (outputs[3].host, outputs[3].priority, outputs[3].multicast) == (
        "239.255.0.9",
        120,
        True,
    )
    assert isinstance(outputs[4], OpenDmxOutput)
    assert isinstance(outputs[5], VirtualOutput)
    assert {o.driver for o in outputs.values()} == {
        "enttec_pro",
        "artnet",
        "sacn",
        "open_dmx",
        "virtual",
    }
