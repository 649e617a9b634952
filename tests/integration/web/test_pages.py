"""Every page in chromium: loads without a script error, follows MQTT live, patches
through the same requests as MQTT (Home Assistant discovery, the DMX frame) and shows
the database's refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testkit.browser import ready
from testkit.mqtt import MqttProbe

from tests.integration.web.conftest import SCREENSHOTS, WebBridge

PAGES = ("overview", "universes", "lights", "patch", "scenes", "circadian", "switches")


def open_page(page: Any, web: WebBridge, name: str) -> None:
    errors: list[str] = getattr(page, "errors", [])
    page.goto(f"{web.url}/{name}")
    try:
        ready(page)
    except Exception as exc:
        raise AssertionError(f"{name} did not get ready: {exc}; page errors: {errors}") from None


@pytest.mark.parametrize("name", PAGES)
def test_each_page_loads_without_a_script_error(
    page: Any, web_bridge: WebBridge, name: str
) -> None:
    open_page(page, web_bridge, name)
    assert page.locator("h1").first.inner_text()
    if name == "lights":
        page.wait_for_selector("[data-key='fixture:kitchen-ceiling']")
    if name == "universes":
        page.wait_for_function(
            "() => document.querySelector('.universe')?.dataset.levels !== undefined"
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=name != "patch")
    assert page.errors == []


def test_an_mqtt_command_shows_on_open_pages_without_a_reload(
    browser: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    context = browser.new_context()
    try:
        lights, universes = context.new_page(), context.new_page()
        open_page(lights, web_bridge, "lights")
        open_page(universes, web_bridge, "universes")
        lights.evaluate("window.tauMark = 1")  # gone if the page reloads
        topic = web_bridge.bridge.topic("fixture", "kitchen-ceiling", "set")
        mqtt_probe.publish(topic, json.dumps({"state": "ON", "brightness": 128}))
        lights.wait_for_function(
            "() => document.querySelector(\"[data-key='fixture:kitchen-ceiling'] .val\")"
            ".textContent.startsWith('50 %')",
            timeout=3000,
        )
        universes.wait_for_function(
            "() => parseInt(document.querySelector(\"[data-universe='1']\").dataset.levels"
            ".slice(0, 2), 16) > 0",
            timeout=3000,
        )
        assert lights.evaluate("window.tauMark") == 1
        mqtt_probe.publish(topic, "OFF")
        universes.wait_for_function(
            "() => document.querySelector(\"[data-universe='1']\")"
            ".dataset.levels.slice(0, 2) === '00'",
            timeout=3000,
        )
    finally:
        context.close()


def test_a_command_from_the_page_reports_applied_and_refused(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    log_topic = web_bridge.bridge.topic("bridge", "log")
    mqtt_probe.subscribe(log_topic)
    open_page(page, web_bridge, "lights")
    row = page.locator("[data-key='fixture:kitchen-ceiling']")
    row.locator("[data-act=toggle]").click()
    page.wait_for_function(
        "() => document.querySelector(\"[data-key='fixture:kitchen-ceiling'] output\")"
        ".textContent === 'applied'",
        timeout=3000,
    )
    mark = mqtt_probe.mark()
    reply = page.evaluate(
        """() => fetch('/api/send', {method: 'POST', headers: {'Content-Type': 'application/json',
           'X-CSRF-Token': document.querySelector('meta[name=csrf]').content},
           body: JSON.stringify({topic: 'fixture/kitchen-ceiling/set',
                                 payload: {state: 'ON', color: {r: 255, g: 0, b: 0}}})})
           .then(r => r.json())"""
    )
    # The words MQTT's refusal has, on the log topic as for any other sender.
    assert reply == {"status": "error", "error": "fixture does not support colour"}
    logged = mqtt_probe.wait_for(log_topic, after=mark).json()
    assert logged["message"] == reply["error"]
    assert logged["topic"] == web_bridge.bridge.topic("fixture", "kitchen-ceiling", "set")


def test_a_fixture_patched_in_the_browser_reaches_discovery_and_dmx(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    bridge = web_bridge.bridge
    mqtt_probe.subscribe(f"{bridge.discovery_prefix}/#")
    mark = mqtt_probe.mark()
    open_page(page, web_bridge, "patch")
    form = page.locator("form[data-request='fixture/add']")
    form.locator("[name=model]").fill("Showtec DDP-405 MKII dimmer channel")
    form.locator("[name=name]").fill("Web lamp")
    form.locator("[name=slug]").fill("web-lamp")
    form.locator("[name=universe]").fill("1")
    form.locator("[name=start_channel]").fill("200")
    form.locator("button").click()
    reply = form.locator(".reply")
    reply.filter(has_text="done").wait_for(timeout=5000)
    assert "web-lamp" in reply.inner_text()
    mqtt_probe.wait_for(
        f"{bridge.discovery_prefix}/#", lambda m: b"web-lamp" in m.payload, 5, after=mark
    )
    mqtt_probe.publish(bridge.topic("fixture", "web-lamp", "set"), "ON")
    assert web_bridge.widget.wait_for(
        lambda: (f := web_bridge.widget.latest()) is not None and f.slot(200) > 0, 3
    )
    # the map and list follow the change without a reload
    page.wait_for_function("() => document.body.innerText.includes('web-lamp')", timeout=3000)


def test_a_collision_shows_the_databases_reason(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "patch")
    form = page.locator("form[data-request='fixture/add']")
    form.locator("[name=model]").fill("Showtec DDP-405 MKII dimmer channel")
    form.locator("[name=name]").fill("Clash")
    form.locator("[name=slug]").fill("clash")
    form.locator("[name=universe]").fill("1")
    form.locator("[name=start_channel]").fill("1")
    form.locator("button").click()
    reply = form.locator(".reply.refused")
    reply.wait_for(timeout=5000)
    text = reply.inner_text()
    assert text.startswith("refused:")
    assert "kitchen-ceiling" in text  # the fixture already there


def test_a_change_without_the_csrf_token_is_refused(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "lights")
    status, body = page.evaluate(
        """() => fetch('/api/request/group/add', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({name: 'Sneaky', slug: 'sneaky'})})
           .then(async r => [r.status, await r.json()])"""
    )
    assert status == 403
    assert "CSRF" in body["error"]
    assert page.evaluate("fetch('/api/patch.json').then(r => r.json())")["groups"]
    groups = page.evaluate("fetch('/api/patch.json').then(r => r.json())")["groups"]
    assert "sneaky" not in [g["slug"] for g in groups]


def test_problems_and_switch_presses_show_live(
    browser: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    context = browser.new_context()
    try:
        overview, switches = context.new_page(), context.new_page()
        open_page(overview, web_bridge, "overview")
        open_page(switches, web_bridge, "switches")
        mqtt_probe.publish(web_bridge.bridge.topic("fixture", "no-such-lamp", "set"), "ON")
        overview.locator("#problems li", has_text="unknown fixture 'no-such-lamp'").wait_for(
            timeout=3000
        )
        mqtt_probe.publish(web_bridge.bridge.topic("switch", "kitchen-wall", "action"), "double")
        card = switches.locator("section.switch", has_text="Kitchen wall button")
        card.locator(".presses li", has_text="double").wait_for(timeout=3000)
        assert "double → full brightness" in card.inner_text()  # what a double press does
    finally:
        context.close()


def test_hovering_a_channel_names_its_fixture_role_and_value(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    mqtt_probe.publish(
        web_bridge.bridge.topic("fixture", "kitchen-ceiling", "set"),
        json.dumps({"state": "ON", "brightness": 255}),
    )
    open_page(page, web_bridge, "universes")
    page.wait_for_function(
        "() => document.querySelector(\"[data-universe='1']\")"
        ".dataset.levels?.slice(0, 2) === 'ff'",
        timeout=3000,
    )
    page.locator("[data-universe='1'] canvas").hover(position={"x": 10, "y": 8})
    tip = page.locator("#tip")
    assert tip.inner_text() == (
        "Universe 1 channel 1: kitchen-ceiling (Kitchen ceiling, Showtec DDP-405 MKII "
        "dimmer channel), channel 1 dimmer, value 255"
    )
    page.locator("[data-universe='1'] canvas").hover(position={"x": 31 * 30 + 10, "y": 15 * 22 + 8})
    assert tip.inner_text() == "Universe 1 channel 512: free (value 0)"
    mqtt_probe.publish(web_bridge.bridge.topic("fixture", "kitchen-ceiling", "set"), "OFF")


def test_scenes_store_recall_and_remove(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "scenes")
    form = page.locator("form[data-request='scene/store']")
    form.locator("[name=group]").fill("kitchen")
    form.locator("[name=slug]").fill("web-scene")
    form.locator("[name=name]").fill("Web scene")
    form.locator("button").click()
    # the page reloads with the new scene and says what was done
    row = page.locator("tr", has_text="web-scene")
    row.wait_for(timeout=5000)
    page.locator(".flash", has_text="scene/store: done").wait_for(timeout=3000)
    row.locator("button.cmd").click()
    row.locator(".reply.applied").wait_for(timeout=3000)
    row.locator("button.req-button").click()
    page.locator("tr", has_text="web-scene").wait_for(state="detached", timeout=5000)
    assert page.errors == []


def test_circadian_shows_a_suspended_group_and_resumes_it(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    kitchen = web_bridge.bridge.topic("group", "kitchen", "set")
    state = web_bridge.bridge.topic("group", "kitchen")
    mqtt_probe.subscribe(state)
    mark = mqtt_probe.mark()
    mqtt_probe.publish(kitchen, "ON")
    mqtt_probe.publish(kitchen, json.dumps({"brightness": 30}))  # by hand: suspends it
    # the page is rendered from the bridge's state: open it once the command was applied
    mqtt_probe.wait_json(state, lambda s: s.get("brightness") == 30, after=mark)
    open_page(page, web_bridge, "circadian")
    assert page.locator("svg.chart").count() == 2  # both demo profiles, with a location
    assert "Sunrise" in page.locator("main").inner_text()
    row = page.locator("tr", has_text="kitchen")
    assert "suspended" in row.inner_text()
    row.locator("button.cmd").click()
    row.locator(".reply.applied").wait_for(timeout=3000)
    page.reload()
    assert "following" in page.locator("tr", has_text="kitchen").inner_text()
    mqtt_probe.publish(kitchen, "OFF")


def test_the_patch_page_searches_the_fixture_libraries(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "patch")
    page.fill("#library-search", "acme par")
    mode = page.locator("#library button.mode", has_text="7 Channel")
    mode.wait_for(timeout=5000)
    assert page.locator("#library .def").count() == 1
    mode.click()
    channels = page.locator("#channels").inner_text()
    assert "Acme Par RGBW · 7 Channel" in channels
    assert "not imported yet: tau fixtures import" in channels
    assert "Shutter fixed 10" in channels  # parked open, as `tau fixtures show` says
    page.fill("#library-search", "x")
    assert page.errors == []


def test_universe_levels_follow_a_fade_at_10_updates_a_second_or_more(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    open_page(page, web_bridge, "universes")
    topic = web_bridge.bridge.topic("fixture", "kitchen-ceiling", "set")
    # From dark: whatever an earlier test on this bridge (or its database) left it at.
    mqtt_probe.publish(topic, json.dumps({"state": "OFF", "transition": 0}))
    page.wait_for_function(
        """() => {
          const levels = document.querySelector("[data-universe='1']").dataset.levels;
          return levels !== undefined && parseInt(levels.slice(0, 2) || "0", 16) === 0;
        }""",
        timeout=5000,
    )
    page.evaluate(
        """() => {
          window.levelUpdates = [];
          const block = document.querySelector("[data-universe='1']");
          new MutationObserver(() => window.levelUpdates.push(
              [performance.now(), parseInt(block.dataset.levels.slice(0, 2) || "0", 16)]))
            .observe(block, {attributes: true, attributeFilter: ['data-levels']});
        }"""
    )
    mqtt_probe.publish(topic, json.dumps({"state": "ON", "brightness": 255, "transition": 3}))
    page.wait_for_timeout(2500)
    updates = page.evaluate("window.levelUpdates")
    mqtt_probe.publish(topic, json.dumps({"state": "OFF", "transition": 0}))
    times = [t for t, _level in updates]
    # One second mid-fade, counted from the first update of the fade itself (channel 1 on
    # its way up): an update the page got before it (another test's last change) is not it.
    rising = [t for t, level in updates if 0 < level < 255]
    assert rising, f"no update during the fade: {updates}"
    window = [t for t in rising if rising[0] + 500 <= t <= rising[0] + 1500]
    assert len(window) >= 10, f"{len(window)} updates in a second of a fade: {updates}"
    # At most 20 a second, over the whole fade: the browser's clock stamps a message when
    # its main thread gets to it, so on a busy machine three sent 50 ms apart can land in
    # one turn and a 1-second window would count the jitter, not the bridge's pace.
    span_s = (times[-1] - times[0]) / 1000
    assert len(times) - 1 <= 20 * span_s + 1, f"{len(times)} messages in {span_s:.2f} s"


def test_an_effect_from_the_lights_page_runs_and_shows(
    page: Any, web_bridge: WebBridge, mqtt_probe: MqttProbe
) -> None:
    bridge = web_bridge.bridge
    state_topic = bridge.topic("fixture", "kitchen-ceiling")
    mqtt_probe.subscribe(state_topic)
    mark = mqtt_probe.mark()
    open_page(page, web_bridge, "lights")
    row = page.locator("[data-key='fixture:kitchen-ceiling']")
    choices = row.locator("[data-act=effect] option").evaluate_all("os => os.map(o => o.value)")
    # A dimmer offers what its discovery's effect_list says: no colour effects.
    assert choices == ["none", "candle", "fireplace", "breathe", "pulse"]
    row.locator("[data-act=effect]").select_option("candle")
    row.locator("output.applied").wait_for(timeout=3000)
    row.locator(".val .effect", has_text="candle").wait_for(timeout=3000)
    assert mqtt_probe.wait_json(state_topic, lambda d: d["effect"] == "candle", after=mark)
    # Whoever starts one (Home Assistant, MQTT), the open page follows without a reload.
    page.evaluate("window.tauMark = 1")
    mqtt_probe.publish(
        bridge.topic("group", "dining", "set"), '{"state": "ON", "effect": "breathe"}'
    )
    group = page.locator("[data-key='group:dining']")
    group.locator(".val .effect", has_text="breathe").wait_for(timeout=3000)
    assert group.locator("[data-act=effect]").input_value() == "breathe"
    assert page.evaluate("window.tauMark") == 1
    # "no effect" stops it, through the same command path.
    row.locator("[data-act=effect]").select_option("none")
    row.locator(".val .effect").wait_for(state="detached", timeout=3000)
    mqtt_probe.publish(bridge.topic("group", "dining", "set"), "OFF")
    mqtt_probe.publish(bridge.topic("fixture", "kitchen-ceiling", "set"), "OFF")


def test_the_patch_page_imports_a_library_definition(page: Any, web_bridge: WebBridge) -> None:
    open_page(page, web_bridge, "patch")
    outside = page.evaluate(
        """() => fetch('/api/library/import', {method: 'POST', headers: {'Content-Type':
           'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf]').content},
           body: JSON.stringify({path: '/etc/passwd'})}).then(r => r.json())"""
    )
    assert outside == {
        "status": "error",
        "error": "/etc/passwd is not in a fixture library this bridge searches",
    }
    page.fill("#library-search", "acme par")
    page.locator("#library button.mode", has_text="7 Channel").click()
    page.locator("#channels button.import").click()
    # What `tau fixtures import FILE` prints, inline (or kept across a reload).
    done = page.locator(".reply.applied, .flash", has_text="1 file(s): 2 drivable models")
    done.wait_for(timeout=10_000)
    assert "2 new, 0 updated, 0 unchanged, 0 refused" in done.inner_text()
    assert "skipped Acme – Par RGBW – Show" in done.inner_text()  # as the CLI says it
    # The bridge reloads on the database's notification; the page follows it live.
    page.locator("main", has_text="Acme Par RGBW – 7 Channel").wait_for(timeout=5000)
    ready(page)
    page.fill("#library-search", "acme par")
    mode = page.locator("#library button.mode", has_text="7 Channel")
    mode.filter(has_text="✓").wait_for(timeout=5000)
    mode.click()
    assert "imported as" in page.locator("#channels").inner_text()
    assert page.errors == []
