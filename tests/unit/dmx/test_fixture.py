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
        (None, 255, [128, 127]),  # never set: the mired midpoint of 2700-6500, an even mix
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
    assert render(p, 255, rgb=(255, 128, 64)) == [191, 64, 0, 64]
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
