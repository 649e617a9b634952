"""The Circadian page's profile settings in chromium: shown for each profile, changed
through the `circadian/profile/update` request (the running bridge's own data shows the
change after the page reloads), a refused value's reason shown inline, nothing changed."""

from __future__ import annotations

from typing import Any

from testkit.db import sql

from tests.integration.web.conftest import WebBridge
from tests.integration.web.test_pages import open_page

SETTINGS = (
    "SELECT take_over, resume_after_s, sleep_brightness_pct, sleep_kelvin FROM "
    "circadian_profiles WHERE name = 'clock-only'"
)


def card(page: Any, profile: str) -> Any:
    return page.locator(f"section.profile[data-profile='{profile}']")


def test_settings_are_shown_and_changed_from_the_page(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "circadian")
    clock = card(page, "clock-only")
    assert clock.locator(".summary").inner_text() == (
        "take over changed, resume by hand only, sleep 1 % at the warmest white"
    )
    assert card(page, "daylight").locator("form.settings").count() == 1
    form = clock.locator("form.settings")
    assert form.locator("[name=take_over]").input_value() == "changed"
    form.locator("[name=take_over]").select_option("all")
    form.locator("[name=resume_after_s]").fill("600")
    form.locator("[name=sleep_brightness_pct]").fill("3")
    form.locator("[name=sleep_kelvin]").fill("2400")
    form.locator("button").click()
    # the page reloads from the bridge's own (reloaded) installation, and says what was done
    page.locator(".flash", has_text="circadian/profile/update: done: clock-only").wait_for(
        timeout=5000
    )
    clock = card(page, "clock-only")
    assert clock.locator(".summary").inner_text() == (
        "take over all, resume after 600 s, sleep 3 % at 2400 K"
    )
    assert sql(web_bridge.bridge.database_url, SETTINGS) == [
        {"take_over": "all", "resume_after_s": 600, "sleep_brightness_pct": 3, "sleep_kelvin": 2400}
    ]
    form = clock.locator("form.settings")
    assert form.locator("[name=sleep_kelvin]").input_value() == "2400"

    # an emptied field clears its setting (null)
    form.locator("[name=resume_after_s]").fill("")
    form.locator("[name=sleep_kelvin]").fill("")
    form.locator("button").click()
    card(page, "clock-only").locator(
        ".summary", has_text="take over all, resume by hand only, sleep 3 % at the warmest white"
    ).wait_for(timeout=5000)
    assert page.errors == []


def test_a_refused_value_shows_its_reason_inline_and_changes_nothing(
    page: Any, web_bridge: WebBridge
) -> None:
    before = sql(web_bridge.bridge.database_url, SETTINGS)
    open_page(page, web_bridge, "circadian")
    page.evaluate("window.tauMark = 1")  # gone if the page reloads
    form = card(page, "clock-only").locator("form.settings")
    form.locator("[name=sleep_kelvin]").fill("500")
    form.locator("button").click()
    reply = form.locator(".reply.refused")
    reply.wait_for(timeout=5000)
    assert reply.inner_text() == (
        "refused: invalid circadian/profile/update request: sleep_kelvin: sleep_kelvin must "
        "be a whole number from 1000 to 20000 (kelvin), or null (each fixture's warmest "
        "white), got 500"
    )
    form.locator("[name=sleep_kelvin]").fill("2700")
    form.locator("[name=sleep_brightness_pct]").fill("0")
    form.locator("button").click()
    form.locator(".reply.refused", has_text="sleep_brightness_pct must be above 0").wait_for(
        timeout=5000
    )
    assert page.evaluate("window.tauMark") == 1
    assert sql(web_bridge.bridge.database_url, SETTINGS) == before
    assert page.errors == []
