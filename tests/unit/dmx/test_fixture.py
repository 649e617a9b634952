import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.dmx.fixture import coarse8, render_fixture
from tau.dmx.level import Level, brightness_to_level16
from tau.dmx.types import Patch


def patch(*channels: str, curve: str = "linear", min_level: float = 0.0) -> Patch:
    return Patch(1, 1, 1, tuple(channels), 2700, 6500, curve, min_level)


def render(p: Patch, brightness: int, kelvin: float | None = None, rgb=None) -> list[int]:
    return list(render_fixture(p, Level(brightness_to_level16(brightness), kelvin, rgb)))


@pytest.mark.parametrize(
    ("brightness", "expected"), [(0, [0]), (1, [1]), (128, [128]), (254, [254]), (255, [255])]
)
def test_dimmer_8bit_bytes_equal_the_mqtt_brightness(brightness: int, expected: list[int]) -> None:
    assert render(patch("dimmer"), brightness) == expected


@pytest.mark.parametrize(
    ("brightness", "expected"),
    [(0, [0, 0]), (1, [1, 1]), (128, [0x80, 0x80]), (255, [255, 255])],
)
def test_dimmer_16bit_coarse_fine(brightness: int, expected: list[int]) -> None:
    assert render(patch("dimmer", "dimmer_fine"), brightness) == expected


def test_square_curve_bytes() -> None:
    # 128/255 → x = 32896/65535, x² · 65535 = 16512.5 → 16513 = 0x4081
    assert render(patch("dimmer", "dimmer_fine", curve="square"), 128) == [0x40, 0x81]
    assert render(patch("dimmer", curve="square"), 128) == [0x40]


def test_min_level_lifts_the_lowest_step_but_off_stays_off() -> None:
    p = patch("dimmer", min_level=10)
    assert render(p, 0) == [0]
    assert render(p, 1) == [26]  # 10 % floor (6554) + 1/255 of the rest → 6785 → 26
    assert render(p, 255) == [255]


@pytest.mark.parametrize(
    ("kelvin", "brightness", "expected"),
    [
        (2700, 255, [255, 0]),
        (6500, 255, [0, 255]),
        (2700, 128, [128, 0]),
        (6500, 128, [0, 128]),
        (1000, 255, [255, 0]),  # clamped to the warm end
        # never set: the mired midpoint of 2700-6500, an even mix, the brightest at full
        (None, 255, [255, 255]),
    ],
)
def test_warm_cool(kelvin: float | None, brightness: int, expected: list[int]) -> None:
    assert render(patch("warm", "cool"), brightness, kelvin) == expected


def test_warm_cool_16bit() -> None:
    p = patch("warm", "warm_fine", "cool", "cool_fine")
    assert render(p, 255, 2700) == [255, 255, 0, 0]
    assert render(p, 128, 6500) == [0, 0, 0x80, 0x80]


@pytest.mark.parametrize(
    ("kelvin", "brightness", "expected"),
    [(2700, 255, [255, 0]), (6500, 128, [128, 255]), (4600, 255, [255, 128]), (4600, 0, [0, 128])],
)
def test_dimmer_and_cct(kelvin: float, brightness: int, expected: list[int]) -> None:
    assert render(patch("dimmer", "cct"), brightness, kelvin) == expected


def test_rgb() -> None:
    p = patch("red", "green", "blue")
    assert render(p, 255, rgb=(255, 128, 0)) == [255, 128, 0]
    assert render(p, 128, rgb=(255, 0, 255)) == [128, 0, 128]
    assert render(p, 255) == [255, 255, 255]  # no colour yet: white
    assert render(p, 0, rgb=(255, 128, 0)) == [0, 0, 0]


def test_rgb_with_colour_temperature() -> None:
    red, green, blue = render(patch("red", "green", "blue"), 255, kelvin=2700)
    assert red == 255
    assert blue < green < red


def test_rgbw_extracts_white() -> None:
    p = patch("red", "green", "blue", "white")
    assert render(p, 255, rgb=(255, 255, 255)) == [0, 0, 0, 255]
    assert render(p, 255, rgb=(255, 128, 0)) == [255, 128, 0, 0]
    # White takes the common 64; the mix is scaled so its brightest emitter is at full.
    assert render(p, 255, rgb=(255, 128, 64)) == [255, 85, 0, 85]
    assert render(p, 255) == [0, 0, 0, 255]


def test_rgb_16bit() -> None:
    p = patch("red", "red_fine", "green", "green_fine", "blue", "blue_fine")
    assert render(p, 255, rgb=(255, 0, 255)) == [255, 255, 0, 0, 255, 255]


def test_unknown_roles_and_orphan_fine_stay_dark() -> None:
    assert render(patch("dimmer", "strobe", "cct_fine"), 255, 4000) == [255, 0, 0]


@given(st.integers(0, 255))
def test_8bit_and_16bit_fixtures_agree_on_the_coarse_byte(brightness: int) -> None:
    for curve in ("linear", "square", "cie1931", "2.2"):
        (eight,) = render(patch("dimmer", curve=curve), brightness)
        coarse, fine = render(patch("dimmer", "dimmer_fine", curve=curve), brightness)
        value16 = coarse << 8 | fine
        assert eight == coarse8(value16)
        assert (eight == 0) == (brightness == 0)


@given(st.integers(0, 65535))
def test_coarse8_is_the_high_byte_and_never_hides_a_non_zero_level(value16: int) -> None:
    assert coarse8(value16) == (max(1, value16 >> 8) if value16 else 0)


def fixed_patch(*channels: str | int, curve: str = "linear") -> Patch:
    """Channels given as roles, or as an int for a fixed channel with that value."""
    roles = tuple("fixed" if isinstance(c, int) else c for c in channels)
    values = tuple(c if isinstance(c, int) else 0 for c in channels)
    return Patch(1, 1, 1, roles, 2700, 6500, curve, 0.0, values)


def test_rgbw_par_with_master_dimmer_shutter_and_macro() -> None:
    # A typical 7-channel PAR: dimmer, R, G, B, W, shutter (255 = open), macro (0 = off).
    p = fixed_patch("dimmer", "red", "green", "blue", "white", 255, 0)
    assert render(p, 128, rgb=(255, 0, 0)) == [128, 255, 0, 0, 0, 255, 0]
    assert render(p, 255, rgb=(255, 255, 255)) == [255, 0, 0, 0, 255, 255, 0]
    # Off: the dimmer closes, the fixed channels keep their values.
    assert render(p, 0, rgb=(255, 0, 0)) == [0, 255, 0, 0, 0, 255, 0]


def test_master_dimmer_carries_the_curve_and_colours_stay_at_full_scale() -> None:
    with_dimmer = patch("dimmer", "red", "green", "blue", curve="square")
    without = patch("red", "green", "blue", curve="square")
    # Square curve at half: 25 % once, not 25 % x 25 % (no double dimming).
    assert render(with_dimmer, 128, rgb=(255, 128, 0)) == [64, 255, 128, 0]
    assert render(without, 128, rgb=(255, 128, 0)) == [64, 32, 0]


def test_16bit_master_dimmer_with_colours() -> None:
    p = patch("dimmer", "dimmer_fine", "red", "green", "blue")
    assert render(p, 255, rgb=(0, 0, 255)) == [255, 255, 0, 0, 255]


def test_rgba_amber_takes_red_and_half_green() -> None:
    p = patch("red", "green", "blue", "amber")
    assert render(p, 255, rgb=(254, 127, 0)) == [0, 0, 0, 255]  # pure amber, at full
    assert render(p, 255, rgb=(255, 0, 0)) == [255, 0, 0, 0]  # red has no green: no amber
    assert render(p, 255, rgb=(128, 128, 0)) == [0, 128, 0, 255]


def test_rgbwa_white_first_then_amber() -> None:
    p = patch("red", "green", "blue", "white", "amber")
    assert render(p, 255, rgb=(255, 255, 255)) == [0, 0, 0, 255, 0]
    # White takes the common 64, amber the 190 red + 95 green left over (scaled to full).
    assert render(p, 255, rgb=(254, 159, 64)) == [0, 0, 0, 86, 255]
    # Warm white from a colour temperature uses amber and white, little red.
    _, _, b, w, a = render(p, 255, kelvin=2700)
    assert w > 0 and a > 0 and b == 0


def test_uv_lime_cyan_indigo_stay_dark_in_a_colour_mix() -> None:
    p = patch("red", "green", "blue", "uv", "lime", "cyan", "indigo", "uv_fine")
    assert render(p, 255, rgb=(255, 255, 255)) == [255, 255, 255, 0, 0, 0, 0, 0]
    assert render(p, 255, kelvin=6500)[3:] == [0, 0, 0, 0, 0]


def test_single_colour_emitters_carry_the_level() -> None:
    assert render(patch("uv"), 128) == [128]
    assert render(patch("dimmer", "uv", "uv_fine"), 128) == [128, 255, 255]
    assert render(patch("amber", "white"), 64) == [64, 64]
    assert render(patch("lime", "cyan", "indigo"), 255) == [255, 255, 255]


def test_multi_head_fixture_drives_every_head_alike() -> None:
    # A 3-cell RGB bar with a master dimmer and a strobe channel parked open.
    p = fixed_patch("dimmer", 0, *("red", "green", "blue") * 3)
    assert render(p, 255, rgb=(255, 0, 128)) == [255, 0, *[255, 0, 128] * 3]


def test_fixed_channels_only_change_with_the_patch() -> None:
    p = fixed_patch(10, "dimmer", 200)
    for brightness in (0, 1, 128, 255):
        first, _, last = render(p, brightness, kelvin=3000, rgb=(1, 2, 3))
        assert (first, last) == (10, 200)


def test_dimmer_sharing_its_channel_dims_within_its_span() -> None:
    # "0-7 closed, 8-134 dimmer, 135-239 strobe": off sends 0, the level maps to 8..134.
    p = Patch(1, 1, 1, ("dimmer", "red"), 2700, 6500, "linear", 0.0, (), ((8, 134, 0), None))
    assert render(p, 0, rgb=(255, 0, 0)) == [0, 255]
    assert render(p, 255, rgb=(255, 0, 0)) == [134, 255]
    assert render(p, 128, rgb=(255, 0, 0)) == [8 + round(126 * 128 / 255), 255]
    # A reversed span (100 % at the low end) and a shutter switched open/closed.
    assert render(
        Patch(1, 1, 1, ("dimmer",), 2700, 6500, "linear", 0.0, (), ((200, 10, 255),)), 255
    ) == [10]
    switch = Patch(1, 1, 1, ("dimmer",), 2700, 6500, "linear", 0.0, (), ((40, 40, 5),))
    assert [render(switch, b)[0] for b in (0, 1, 128, 255)] == [5, 40, 40, 40]
