"""The pages' HTML, made on the server: plain strings, every value escaped.

Each page carries its starting data as JSON (`#boot`) for the script
(`static/tau.js`), which follows changes live over `/ws`; long lists (fixtures,
models) are drawn by the script a screenful at a time.
"""

from __future__ import annotations

import json
from typing import Any

from tau.web import circadian
from tau.web.html import e, field, state, table

TITLES = {
    "overview": "Overview",
    "universes": "Universes",
    "lights": "Lights",
    "patch": "Patch",
    "scenes": "Scenes",
    "circadian": "Circadian",
    "switches": "Switches",
}


def _boot(data: dict[str, Any]) -> str:
    # `</` cannot end the script element early.
    text = json.dumps(data, default=str, separators=(",", ":")).replace("</", "<\\/")
    return f'<script id="boot" type="application/json">{text}</script>'


def layout(
    name: str,
    content: str,
    *,
    csrf: str = "",
    read_only: bool = False,
    logout: bool = False,
    version: str = "",
    boot: dict[str, Any] | None = None,
) -> str:
    nav = "".join(
        f'<a href="/{key}"{" aria-current=page" if key == name else ""}>{title}</a>'
        for key, title in TITLES.items()
    )
    tail = (
        '<form method="post" action="/logout" class="logout" data-plain>'
        f'<input type="hidden" name="csrf" value="{e(csrf)}"><button>Log out</button></form>'
        if logout
        else ""
    )
    ro = '<span class="badge">read-only</span>' if read_only else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="csrf" content="{e(csrf)}">'
        f"<title>Tau · {e(TITLES.get(name, name))}</title>"
        '<link rel="stylesheet" href="/static/tau.css">'
        '<link rel="icon" href="/static/tau.svg">'
        f'</head><body data-page="{e(name)}" data-read-only="{int(read_only)}">'
        f'<header><a class="brand" href="/overview">Tau</a><nav>{nav}</nav>{ro}'
        f'<span id="conn" class="dot" title="live updates"></span>{tail}</header>'
        f"<main>{content}</main>"
        f"<footer>Tau {e(version)}</footer>{_boot(boot or {})}"
        '<script src="/static/tau.js"></script></body></html>'
    )


def login(failed: bool, target: str) -> str:
    problem = '<p class="refused" role="alert">Wrong password.</p>' if failed else ""
    return layout(
        "login",
        '<form method="post" action="/login" class="login" data-plain><h1>Tau</h1>'
        f"{problem}<label>Password <input type=password name=password autofocus "
        'autocomplete="current-password"></label>'
        f'<input type="hidden" name="next" value="{e(target)}"><button>Log in</button></form>',
    )


def page(name: str, boot: dict[str, Any], *, read_only: bool, **options: Any) -> str:
    content = BODIES[name](boot, not read_only)
    return layout(name, content, boot=boot, read_only=read_only, **options)


# ------------------------------------------------------------------ bodies
def _overview(boot: dict[str, Any], controls: bool = True) -> str:
    health, about = boot["health"], boot["about"]
    broker, database = health["broker"], health["database"]
    node = health["node"]
    outputs = [
        [
            e(u),
            e(o.get("driver", "")),
            state(o.get("state") == "ok", str(o.get("state"))),
            e(o.get("detail", "")),
            e(o.get("frames_sent", "")),
        ]
        for u, o in sorted(health["outputs"].items(), key=lambda kv: int(kv[0]))
    ]
    nodes = [
        [
            e(n.get("name", ""))
            + (" <small>(this bridge)</small>" if n.get("name") == node["name"] else ""),
            state(n.get("state") == "alive", str(n.get("state", ""))),
            "leader" if n.get("leader") else "",
            e(", ".join(str(u) for u in n.get("owned", []))),
            e(", ".join(str(u) for u in n.get("standby", []))),
            e(n.get("host", "")),
        ]
        for n in about.get("nodes", [])
    ] or [
        [
            e(node["name"]),
            state(True, "alive"),
            "leader" if node["leader"] else "",
            e(", ".join(map(str, node["owned"]))),
            e(", ".join(map(str, node["standby"]))),
            "",
        ]
    ]
    counts = "".join(
        f'<div class="count"><b>{e(v)}</b>{e(k.replace("_", " "))}</div>'
        for k, v in about.get("counts", {}).items()
    )
    problems = "".join(
        f"<li><time>{e(p['at'])}</time> <code>{e(p['topic'])}</code> {e(p['text'])}</li>"
        for p in reversed(boot["problems"])
    )
    return (
        '<h1>Overview</h1><section class="cards">'
        f'<div class="card"><h2>Bridge</h2><p id="bridge-health">'
        f"{state(bool(health['healthy']), 'healthy' if health['healthy'] else 'unhealthy')}</p>"
        f"<p>node <b>{e(node['name'])}</b>{' (leader)' if node['leader'] else ''}"
        f" · up {e(health['uptime_s'])} s</p></div>"
        f'<div class="card"><h2>Broker</h2><p id="broker-health">'
        f"{state(broker['status'] == 'connected', broker['status'])}</p>"
        f"<p>{e(about.get('broker_url', ''))} · base topic <code>{e(about.get('base_topic', ''))}"
        f"</code> · {e(broker['reconnects'])} reconnects</p></div>"
        f'<div class="card"><h2>Database</h2><p id="database-health">'
        f"{state(database['status'] == 'ok', database['status'])}</p>"
        f"<p>{e(about.get('database_url', ''))} · {e(database.get('queued_writes', 0))} "
        f"writes queued{' · ' + e(database['last_error']) if database.get('last_error') else ''}"
        "</p></div></section>"
        f'<section class="counts">{counts}</section>'
        "<h2>Outputs</h2>"
        + table(["Universe", "Driver", "State", "Detail", "Frames"], outputs)
        + "<h2>Nodes</h2>"
        + table(["Node", "State", "Role", "Sends universes", "Stands by for", "Host"], nodes)
        + f'<h2>Last problems <small id="rejected">{e(boot["rejected"])} refused so far</small>'
        f'</h2><ul id="problems" class="log">{problems}</ul>'
    )


def _universes(_boot: dict[str, Any], controls: bool = True) -> str:
    return (
        "<h1>Universes</h1><p class=hint>Live levels of each universe this bridge sends; "
        "hover a channel for its fixture, role and value.</p>"
        '<div id="universes"></div><div id="tip" class="tip" hidden></div>'
    )


def _lights(_boot: dict[str, Any], controls: bool = True) -> str:
    return (
        '<h1>Lights</h1><div class="bar"><label>Transition <input id="transition" '
        'type="number" min="0" max="3600" step="0.1" size="5"> s</label>'
        '<input id="filter" type="search" placeholder="Filter by name, slug or model"></div>'
        '<h2>Groups</h2><div id="groups" class="rows"></div>'
        '<h2>Fixtures <small id="fixture-count"></small></h2>'
        '<div id="fixtures" class="virtual"><div class="spacer"></div></div>'
    )


def _form(request: str, title: str, fields: str, button: str) -> str:
    return (
        f'<form class="req" data-request="{e(request)}"><h3>{e(title)}</h3>{fields}'
        f'<button>{e(button)}</button><output class="reply"></output></form>'
    )


SLUG = 'pattern="[a-z0-9][a-z0-9_\\-]{0,62}" required'


def _patch(boot: dict[str, Any], controls: bool = True) -> str:
    add = _form(
        "fixture/add",
        "Add fixtures",
        field("model", "Model", extra='list="model-names" required')
        + field("name", "Name", extra="required")
        + field("slug", "Slug", extra=SLUG)
        + field("universe", "Universe", "number", "min=0 max=63999 value=1 required")
        + field("start_channel", "Address", "number", "min=1 max=512 required")
        + field("count", "Count", "number", "min=1 max=512 value=1")
        + '<label>Heads <select name="heads"><option>together</option><option>each</option>'
        "</select></label>",
        "Add",
    )
    move = _form(
        "fixture/update",
        "Move",
        field("slug", "Fixture", extra='list="fixture-slugs" required')
        + field("universe", "Universe", "number", "min=0 max=63999")
        + field("start_channel", "Address", "number", "min=1 max=512"),
        "Move",
    )
    rename = _form(
        "fixture/rename",
        "Rename",
        field("slug", "Fixture", extra='list="fixture-slugs" required')
        + field("new_slug", "New slug", extra=SLUG.replace(" required", ""))
        + field("name", "New name"),
        "Rename",
    )
    remove = _form(
        "fixture/remove",
        "Remove",
        field("slug", "Fixture", extra='list="fixture-slugs" required'),
        "Remove",
    )
    group_add = _form(
        "group/add",
        "New group",
        field("name", "Name", extra="required")
        + field("slug", "Slug", extra=SLUG)
        + field("circadian_profile", "Circadian profile", extra='list="profile-names"'),
        "Create",
    )
    member = _form(
        "group/members/add",
        "Add to group",
        field("group", "Group", extra='list="group-slugs" required')
        + field("fixture", "Fixture", extra='list="fixture-slugs"')
        + field("child_group", "or group", extra='list="group-slugs"'),
        "Add member",
    )
    unmember = _form(
        "group/members/remove",
        "Take out of group",
        field("group", "Group", extra='list="group-slugs" required')
        + field("fixture", "Fixture", extra='list="fixture-slugs"')
        + field("child_group", "or group", extra='list="group-slugs"'),
        "Take out",
    )
    group_remove = _form(
        "group/remove",
        "Remove group",
        field("slug", "Group", extra='list="group-slugs" required'),
        "Remove",
    )
    groups = table(
        ["Group", "Name", "Fixtures", "Groups", "Circadian"],
        [
            [
                f"<code>{e(g['slug'])}</code>",
                e(g["name"]),
                e(", ".join(g["fixtures"])),
                e(", ".join(g["groups"])),
                e(g["profile"] or ""),
            ]
            for g in boot["groups"]
        ],
    )
    lists = (
        '<datalist id="model-names"></datalist><datalist id="fixture-slugs"></datalist>'
        '<datalist id="group-slugs"></datalist><datalist id="profile-names"></datalist>'
    )
    fixture_forms = f'<div class="forms">{add}{move}{rename}{remove}</div>' if controls else ""
    group_forms = (
        f'<section class="forms wide">{group_add}{member}{unmember}{group_remove}</section>'
        if controls
        else ""
    )
    return (
        "<h1>Patch</h1>"
        '<section class="split"><div><h2>Fixture models</h2>'
        '<input id="model-search" type="search" placeholder="Search imported models">'
        '<div id="models" class="virtual short"><div class="spacer"></div></div>'
        '<div id="channels" class="channels"></div>'
        "<h2>Fixture libraries <small>(<code>tau fixtures search</code>)</small></h2>"
        '<input id="library-search" type="search" placeholder="Search QLC+ and OFL definitions">'
        f'<div id="library" class="library"></div></div>{fixture_forms}</section>'
        '<h2>Universe map</h2><div id="map"></div>'
        '<h2>Fixtures <small id="fixture-count"></small></h2>'
        '<input id="filter" type="search" placeholder="Filter">'
        '<div id="fixtures" class="virtual"><div class="spacer"></div></div>'
        f"<h2>Groups</h2>{group_forms}{groups}{lists}"
    )


def _scenes(boot: dict[str, Any], controls: bool = True) -> str:
    rows = [
        [
            f"<code>{e(s['slug'])}</code>",
            e(s["name"]),
            e(s["group"] or ""),
            f"{e(s['on'])} on of {e(s['fixtures'])}",
            (
                f'<button class="cmd" data-topic="scene/{e(s["slug"])}/set" data-payload="ON">'
                'Recall</button> <button class="req-button" data-request="scene/remove" '
                f'data-body=\'{{"slug":"{e(s["slug"])}"}}\'>Remove</button>'
                '<output class="reply"></output>'
            )
            if controls
            else "",
        ]
        for s in boot["scenes"]
    ]
    store = _form(
        "scene/store",
        "Store a scene from a group's current look",
        field("group", "Group", extra='list="group-slugs" required')
        + field("slug", "Slug", extra=SLUG)
        + field("name", "Name"),
        "Store",
    )
    options = "".join(f'<option value="{e(g)}">' for g in boot["groups"])
    return (
        "<h1>Scenes</h1>"
        + table(["Scene", "Name", "Group", "Fixtures", ""], rows)
        + (f'<section class="forms">{store}</section>' if controls else "")
        + f'<datalist id="group-slugs">{options}</datalist>'
    )


def _switches(boot: dict[str, Any], controls: bool = True) -> str:
    parts = ["<h1>Switches</h1>"]
    if not boot["switches"]:
        parts.append("<p>No switch in the installation.</p>")
    for s in boot["switches"]:
        actions = "".join(
            f"<li><code>{e(a)}</code> → {e(what)}</li>" for a, what in s["actions"].items()
        )
        parts.append(
            f'<section class="card wide switch" data-topics="{e(" ".join(s["topics"]))}">'
            f"<h2>{e(s['name'])} <small>{e(s['model'])}</small></h2>"
            f"<p>Presses on {' and '.join(f'<code>{e(t)}</code>' for t in s['topics'])}; "
            f"drives {e(s['target'])}</p><ul>{actions}</ul>"
            '<h3>Last presses</h3><ul class="log presses"></ul></section>'
        )
    return "".join(parts)


BODIES = {
    "overview": _overview,
    "universes": _universes,
    "lights": _lights,
    "patch": _patch,
    "scenes": _scenes,
    "circadian": circadian.body,
    "switches": _switches,
}
