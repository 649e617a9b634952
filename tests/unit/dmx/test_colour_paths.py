"""One colour path per colour mode, for every emitter architecture a library describes.

Each architecture is rendered for red, 2700 K, 6500 K, white (on, no colour asked) and
off, at brightness 255, with the exact DMX values. The rules (`tau.dmx.colour`):
a colour lights the colour emitters and white-like emitters carry only its white
part; a CTC channel sits at its neutral value under a colour; a temperature comes
from the whites / the CTC channel first; the brightest emitter of a mix is at full.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.dmx.colour import Emitters, mix_kelvin
from tau.dmx.fixture import render_fixture
from tau.dmx.level import Level
from tau.dmx.types import CtcScale, Patch

# GLP Impression FR1 TM "8 Channel" CTC: "0-15 RGBW raw, 16-255 CTC 10000 K -> 2500 K".
GLP_CTC = CtcScale((16, 255), (10000, 2500), neutral=0)
# A tunable-white fixture's CCT channel "3200 K - 5600 K" over the whole range, no neutral.
TW_CTC = CtcScale((0, 255), (3200, 5600))


def patch(
    *roles: str | int,
    kelvin: tuple[int, int] = (2700, 6500),
    ctc: CtcScale | None = None,
    spans: tuple[tuple[int, int, int] | None, ...] = (),
    constant: bool = False,
) -> Patch:
    """Roles, or an int for a `fixed` channel with that value."""
    channels = tuple("fixed" if isinstance(r, int) else r for r in roles)
    fixed = tuple(r if isinstance(r, int) else 0 for r in roles)
    return Patch(
        1,
        1,
        1,
        channels,
        *kelvin,
        "linear",
        0.0,
        fixed if "fixed" in channels else (),
        spans,
        ctc,
        constant,
    )


RED = Level(255 * 257, None, (255.0, 0.0, 0.0))
K2700 = Level(255 * 257, 2700.0)
K6500 = Level(255 * 257, 6500.0)
WHITE = Level(255 * 257)
OFF = Level(0, None, (255.0, 0.0, 0.0))
REQUESTS = {"red": RED, "2700": K2700, "6500": K6500, "white": WHITE, "off": OFF}

# architecture -> (patch, {request: DMX values})
ARCHITECTURES: dict[str, tuple[Patch, dict[str, list[int]]]] = {
    "RGB": (
        patch("red", "green", "blue"),
        # 2700 K is the black-body colour (Helland's fit: 255, 167, 87).
        {
            "red": [255, 0, 0],
            "2700": [255, 167, 87],
            "6500": [255, 255, 251],
            "white": [255, 255, 255],
            "off": [0, 0, 0],
        },
    ),
    "RGBW": (
        patch("red", "green", "blue", "white"),
        # 2700 K: the white LED takes the common part, the mix is scaled to full
        # (the R 168 G 79 B 0 W 87 at a third of the fixture's output).
        {
            "red": [255, 0, 0, 0],
            "2700": [255, 121, 0, 133],
            "6500": [5, 4, 0, 255],
            "white": [0, 0, 0, 255],
            "off": [0, 0, 0, 0],
        },
    ),
    "RGBA": (
        patch("red", "green", "blue", "amber"),
        # Amber (full red + half green) takes what it can of red and green.
        {
            "red": [255, 0, 0, 0],
            "2700": [0, 39, 87, 255],
            "6500": [0, 127, 251, 255],
            "white": [0, 128, 255, 255],
            "off": [0, 0, 0, 0],
        },
    ),
    "RGBWAUV": (
        patch("red", "green", "blue", "white", "amber", "uv"),
        # UV never lights for a colour or a temperature.
        {
            "red": [255, 0, 0, 0, 0, 0],
            "2700": [14, 0, 0, 141, 255, 0],
            "6500": [0, 1, 0, 255, 5, 0],
            "white": [0, 0, 0, 255, 0, 0],
            "off": [0, 0, 0, 0, 0, 0],
        },
    ),
    "RGB+CTC": (
        patch("red", "green", "blue", "cct", kelvin=(2500, 10000), ctc=GLP_CTC),
        # Red: CTC at 0 ("RGBW raw"), not a white of its own. 2700 K: the RGB at full
        # and the CTC at 16 + 239 * (10000 - 2700) / 7500 = 248.6; 6500 K: 127.5.
        {
            "red": [255, 0, 0, 0],
            "2700": [255, 255, 255, 249],
            "6500": [255, 255, 255, 128],
            "white": [255, 255, 255, 0],
            "off": [0, 0, 0, 0],
        },
    ),
    "RGBW+CTC": (
        patch(
            "dimmer", "red", "green", "blue", "white", "cct", 0, kelvin=(2500, 10000), ctc=GLP_CTC
        ),
        # The master dimmer carries the level; off closes it and the rest stays put.
        {
            "red": [255, 255, 0, 0, 0, 0, 0],
            "2700": [255, 255, 255, 255, 255, 249, 0],
            "6500": [255, 255, 255, 255, 255, 128, 0],
            "white": [255, 0, 0, 0, 255, 0, 0],
            "off": [0, 255, 0, 0, 0, 0, 0],
        },
    ),
    "RGB+WW+CW": (
        patch("red", "green", "blue", "warm", "cool"),
        # Red leaves the whites dark; a temperature is whites only.
        {
            "red": [255, 0, 0, 0, 0],
            "2700": [0, 0, 0, 255, 0],
            "6500": [0, 0, 0, 0, 255],
            "white": [0, 0, 0, 0, 255],
            "off": [0, 0, 0, 0, 0],
        },
    ),
    "WW+CW": (
        patch("warm", "cool"),
        # White: the mired midpoint, both at full.
        {"red": [255, 255], "2700": [255, 0], "6500": [0, 255], "white": [255, 255], "off": [0, 0]},
    ),
    "CTC-only": (
        patch("dimmer", "cct", kelvin=(3200, 5600), ctc=TW_CTC),
        # 2700 K clamps to the 3200 K end; white is the mired midpoint 4073 K.
        {
            "red": [255, 93],
            "2700": [255, 0],
            "6500": [255, 255],
            "white": [255, 93],
            "off": [0, 93],
        },
    ),
    "dimmer/strobe shared": (
        patch("dimmer", "red", "green", "blue", spans=((8, 134, 0), None, None, None)),
        # "0-7 closed, 8-134 dimmer, 135-255 strobe": full is 134, off is 0.
        {
            "red": [134, 255, 0, 0],
            "2700": [134, 255, 167, 87],
            "6500": [134, 255, 255, 251],
            "white": [134, 255, 255, 255],
            "off": [0, 255, 0, 0],
        },
    ),
    "master dimmer": (
        patch("dimmer", "red", "green", "blue", "white", 255),
        {
            "red": [255, 255, 0, 0, 0, 255],
            "2700": [255, 255, 121, 0, 133, 255],
            "6500": [255, 5, 4, 0, 255, 255],
            "white": [255, 0, 0, 0, 255, 255],
            "off": [0, 255, 0, 0, 0, 255],
        },
    ),
    "multi-head": (
        # Master dimmer, strobe parked open, two RGB + warm + cool heads.
        patch("dimmer", 0, *("red", "green", "blue", "warm", "cool") * 2),
        {
            "red": [255, 0, *[255, 0, 0, 0, 0] * 2],
            "2700": [255, 0, *[0, 0, 0, 255, 0] * 2],
            "6500": [255, 0, *[0, 0, 0, 0, 255] * 2],
            "white": [255, 0, *[0, 0, 0, 0, 255] * 2],
            "off": [0, 0, *[255, 0, 0, 0, 0] * 2],
        },
    ),
}


@pytest.mark.parametrize(
    ("name", "request_name"),
    [(name, req) for name in ARCHITECTURES for req in REQUESTS],
)
def test_architecture_renders_each_request(name: str, request_name: str) -> None:
    p, expected = ARCHITECTURES[name]
    assert list(render_fixture(p, REQUESTS[request_name])) == expected[request_name]


def test_half_brightness_halves_the_full_mix() -> None:
    p, _ = ARCHITECTURES["RGBW"]
    assert list(render_fixture(p, Level(128 * 257, 2700.0))) == [128, 60, 0, 67]


def test_constant_output_keeps_the_sum() -> None:
    assert list(render_fixture(patch("warm", "cool", constant=True), WHITE)) == [128, 127]
    p = patch("red", "green", "blue", "white", constant=True)
    assert list(render_fixture(p, K2700)) == [168, 79, 0, 87]


def test_rgbw_command_drives_the_white_led_directly() -> None:
    p = patch("red", "green", "blue", "white")
    assert list(render_fixture(p, Level(255 * 257, None, (255.0, 0.0, 0.0, 128.0)))) == [
        255,
        0,
        0,
        128,
    ]
    # No white part is extracted when the white is given: rgb white stays on R, G, B.
    assert list(render_fixture(p, Level(255 * 257, None, (255.0, 255.0, 255.0, 0.0)))) == [
        255,
        255,
        255,
        0,
    ]


def test_rgbww_command_drives_cold_and_warm_directly() -> None:
    p = patch("red", "green", "blue", "warm", "cool")
    level = Level(255 * 257, None, (0.0, 0.0, 255.0, 60.0, 120.0))
    assert list(render_fixture(p, level)) == [0, 0, 255, 120, 60]


def test_white_leds_a_fixture_lacks_become_rgb_light() -> None:
    # An rgbw command (a group of mixed fixtures) on a plain RGB fixture: red plus a
    # full white is pink, scaled so red is at full.
    rgb = patch("red", "green", "blue")
    level = Level(255 * 257, None, (255.0, 0.0, 0.0, 255.0))
    assert list(render_fixture(rgb, level)) == [255, 128, 128]
    # An rgbww command on an RGBW fixture: both whites on its one white LED.
    rgbw = patch("red", "green", "blue", "white")
    level = Level(255 * 257, None, (0.0, 0.0, 0.0, 100.0, 100.0))
    assert list(render_fixture(rgbw, level)) == [0, 0, 0, 255]


def test_ctc_without_a_neutral_value_sits_at_the_rgb_white_point() -> None:
    # No "no correction" range: under a colour the CTC sits at 6500 K (D65, the white
    # an rgb colour is defined against): 16 + 239 * 3500 / 7500 = 127.5.
    p = patch(
        "red", "green", "blue", "cct", kelvin=(2500, 10000), ctc=CtcScale((16, 255), (10000, 2500))
    )
    assert list(render_fixture(p, RED)) == [255, 0, 0, 128]


def test_a_lone_warm_white_is_the_white_led_of_an_rgbw_fixture() -> None:
    # OFL "Warm White" next to R, G, B (Stairville RevueLED 120 COB RGB+WW): no pair to mix.
    p = patch("red", "green", "blue", "warm")
    assert list(render_fixture(p, RED)) == [255, 0, 0, 0]
    assert list(render_fixture(p, WHITE)) == [0, 0, 0, 255]
    assert list(render_fixture(p, Level(255 * 257, None, (255.0, 0.0, 0.0, 128.0)))) == [
        255,
        0,
        0,
        128,
    ]
    assert list(render_fixture(patch("warm"), Level(128 * 257))) == [128]


EMITTER_SETS = st.sampled_from(
    [
        ("red", "green", "blue"),
        ("red", "green", "blue", "white"),
        ("red", "green", "blue", "amber"),
        ("red", "green", "blue", "white", "amber", "uv"),
        ("red", "green", "blue", "warm", "cool"),
        ("red", "green", "blue", "lime", "cyan", "indigo"),
    ]
)
CHANNEL = st.integers(0, 255).map(float)


@given(EMITTER_SETS, st.tuples(CHANNEL, CHANNEL, CHANNEL))
def test_any_colour_at_full_has_its_brightest_emitter_at_full(
    roles: tuple[str, ...], rgb: tuple[float, float, float]
) -> None:
    out = list(render_fixture(patch(*roles), Level(255 * 257, None, rgb)))
    assert max(out) == (255 if max(rgb) > 0 else 0)
    lit = dict(zip(roles, out, strict=True))
    # Nothing outside the colour lights: UV, lime, cyan and indigo stay dark, and a
    # saturated colour (one component 0) leaves every white dark.
    assert all(lit.get(r, 0) == 0 for r in ("uv", "lime", "cyan", "indigo"))
    if min(rgb) == 0:
        assert all(lit.get(r, 0) == 0 for r in ("white", "warm", "cool"))


@given(EMITTER_SETS, st.floats(2700, 6500))
def test_any_temperature_at_full_has_its_brightest_emitter_at_full(
    roles: tuple[str, ...], kelvin: float
) -> None:
    out = list(render_fixture(patch(*roles), Level(255 * 257, kelvin)))
    assert max(out) == 255
    if "warm" in roles:  # the whites reach every temperature of their range alone
        assert out[:3] == [0, 0, 0]


def test_beyond_the_whites_the_colour_emitters_add_what_they_lack() -> None:
    # Whites of 3000-5000 K asked for 2000 K: the warm white at full plus red and a
    # little green (the whites alone cannot be that warm); blue stays dark.
    em = Emitters(frozenset({"red", "green", "blue", "warm", "cool"}), 3000, 5000)
    shares = mix_kelvin(2000, em).shares
    assert shares["cool"] == 0
    assert shares["red"] == 1.0
    assert 0 < shares["green"] < shares["red"]
    assert shares["blue"] == 0
    assert 0 < shares["warm"] < 1
    # Within the range: the whites alone.
    inside = mix_kelvin(4000, em).shares
    assert [inside.get(c, 0) for c in ("red", "green", "blue")] == [0, 0, 0]
