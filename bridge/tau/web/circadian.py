"""The Circadian page: each profile's day as a chart, its settings, the groups following it.

`data` is what the page starts from (and `/api/circadian.json`); `body` its HTML. Where
the page is not read-only, a profile's settings form sends `circadian/profile/update`
(the bridge request's handler, the edit layer's words when refused, shown inline), and
*Resume* the group's `circadian/set` command.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tau.core.model import CircadianProfile
from tau.core.state import StateStore
from tau.features.circadian.engine import CircadianEngine
from tau.features.circadian.profile import SunCalendar, local_zone, location_configured
from tau.fixtures.profile_edits import summary
from tau.settings import LocationSettings
from tau.web import views
from tau.web.html import e, field, state, table

NOT_IN_USE = (
    "not in use: the bridge refused this profile when it loaded it (its reason is in the "
    "log; sun-relative keyframes need TAU_LOCATION__LATITUDE, __LONGITUDE and __TIMEZONE)"
)

# what a manual change takes over from the profile, per `take_over`
TAKE_OVER_WORDS = {"changed": "only what it changed", "all": "brightness and colour"}


def data(
    store: StateStore,
    engine: CircadianEngine,
    location: LocationSettings,
    when: datetime,
) -> dict[str, Any]:
    """The page's data at `when` (shown in the profiles' own time zone)."""
    inst = store.installation
    now = when.astimezone(local_zone(location))
    sun: dict[str, float] = {}
    if location_configured(location):
        sun = SunCalendar(location).times(now.date())
    now_h = now.hour + now.minute / 60 + now.second / 3600
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    profiles: list[dict[str, Any]] = []
    for profile in sorted(inst.profiles.values(), key=lambda p: p.name):
        shown: dict[str, Any] = {"name": profile.name, "settings": settings(profile)}
        shown["summary"] = summary(shown["settings"])
        profiles.append(shown)
        try:
            points = [
                (m / 60, t.brightness, t.kelvin)
                for m in range(0, 24 * 60 + 1, 10)
                for t in [engine.target_for_profile(profile.id, midnight + timedelta(minutes=m))]
            ]
            current = engine.target_for_profile(profile.id, now)
        except KeyError:
            shown["error"] = NOT_IN_USE
            continue
        shown["svg"] = views.chart_svg(points, now_h, sun)
        shown["now"] = {"brightness": current.brightness, "kelvin": current.kelvin}
        shown["groups"] = [
            following(store, g.id)
            for g in sorted(inst.groups.values(), key=lambda g: g.slug)
            if g.circadian_profile_id == profile.id
        ]
    return {
        "time": now.strftime("%H:%M"),
        "sun": {k: views.clock(v) for k, v in sun.items()},
        "profiles": profiles,
    }


def _plain(value: float | None) -> float | None:
    """A `real` as it was written (0.3, not 0.30000001192092896)."""
    return None if value is None else float(f"{value:g}")


def settings(profile: CircadianProfile) -> dict[str, Any]:
    return {
        "take_over": profile.take_over,
        "resume_after_s": _plain(profile.resume_after_s),
        "sleep_brightness_pct": _plain(profile.sleep_brightness_pct),
        "sleep_kelvin": profile.sleep_kelvin,
    }


def following(store: StateStore, group_id: int) -> dict[str, Any]:
    """A group with a profile: its switch, and what was taken over by hand (a manual
    change takes brightness or colour from the profile until resumed)."""
    group = store.installation.groups[group_id]
    states = store.fixtures()
    governed = [f for f in group.fixture_ids if store.profile_group_of(f) == group_id]
    brightness = sum(1 for f in governed if states[f].circadian_suspended)
    colour = sum(1 for f in governed if states[f].colour_suspended)
    taken = [
        f"{what} on {n} of {len(governed)}"
        for what, n in (("brightness", brightness), ("colour", colour))
        if n
    ]
    return {
        "slug": group.slug,
        "name": group.name,
        "enabled": store.circadian_switch_on(group_id),
        "suspended": bool(taken),
        "taken": "taken over by hand: " + ", ".join(taken) if taken else "",
        "sleep": store.sleeping(group_id),
    }


# ------------------------------------------------------------------ the HTML
def body(boot: dict[str, Any], controls: bool = True) -> str:
    sun = boot["sun"]
    sun_text = (
        f"Sunrise {e(sun['sunrise'])} · sunset {e(sun['sunset'])}"
        if sun
        else "No location configured (TAU_LOCATION__*): sunrise and sunset are not known."
    )
    parts = [f"<h1>Circadian</h1><p>Now {e(boot['time'])} · {sun_text}</p>"]
    if not boot["profiles"]:
        parts.append("<p>No circadian profile in the installation.</p>")
    for profile in boot["profiles"]:
        parts.append(
            f'<section class="card wide profile" data-profile="{e(profile["name"])}">'
            f'<h2>{e(profile["name"])}</h2><p class="summary">{e(profile["summary"])}</p>'
        )
        form = _settings_form(profile) if controls else ""
        if "error" in profile:
            parts.append(f'<p class="refused">{e(profile["error"])}</p>{form}</section>')
            continue
        now = profile["now"]
        level = f"{round(now['brightness'] * 100 / 255)} % at {e(now['kelvin'])} K"
        parts.append(f'<div class="day"><div>{profile["svg"]}<p>Now: {level}</p></div>{form}</div>')
        parts.append(_groups(profile["groups"], controls) + "</section>")
    return "".join(parts)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _settings_form(profile: dict[str, Any]) -> str:
    """The four settings, as they are; an emptied field sends null (no timeout, the
    warmest white). No browser-side limits: the bridge's refusal is the one shown."""
    s = profile["settings"]
    options = "".join(
        f'<option value="{v}"{" selected" if s["take_over"] == v else ""}>{v}: {words}</option>'
        for v, words in TAKE_OVER_WORDS.items()
    )
    return (
        '<form class="req settings" data-request="circadian/profile/update" novalidate>'
        "<h3>Settings</h3>"
        f'<input type="hidden" name="name" value="{e(profile["name"])}">'
        f'<label>Take over <select name="take_over">{options}</select></label>'
        + field(
            "resume_after_s",
            "Resume after (s)",
            "number",
            f'step="any" data-null placeholder="by hand only" '
            f'value="{_number(s["resume_after_s"])}"',
        )
        + field(
            "sleep_brightness_pct",
            "Sleep brightness (%)",
            "number",
            f'step="any" value="{_number(s["sleep_brightness_pct"])}"',
        )
        + field(
            "sleep_kelvin",
            "Sleep kelvin (K)",
            "number",
            f'step="1" data-null placeholder="warmest white" value="{_number(s["sleep_kelvin"])}"',
        )
        + '<button>Save</button><output class="reply"></output></form>'
    )


def _groups(groups: list[dict[str, Any]], controls: bool) -> str:
    rows = [
        [
            f"<code>{e(g['slug'])}</code>",
            e(g["name"]),
            state(not g["suspended"] and g["enabled"], _following_text(g)),
            (
                f'<button class="cmd" data-topic="group/{e(g["slug"])}/circadian/set" '
                'data-payload="ON">Resume</button><output class="reply"></output>'
            )
            if controls and (g["suspended"] or not g["enabled"])
            else "",
        ]
        for g in groups
    ]
    if not rows:
        return "<p>No group follows it.</p>"
    return table(["Group", "Name", "Following", ""], rows)


def _following_text(group: dict[str, Any]) -> str:
    if not group["enabled"]:
        return "switched off"
    text = f"suspended, {group['taken']}" if group["suspended"] else "following"
    return text + (" (sleep mode)" if group["sleep"] else "")
