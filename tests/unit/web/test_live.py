"""The live hub's outbox: what a page is sent is what changed, coalesced, as valid JSON
joined from pieces serialised once for every page."""

from __future__ import annotations

import json
from typing import Any

from tau.web.live import MAX_LINES, Page, Tick


def page(**kwargs: Any) -> Page:
    # The outbox never touches the socket: any object stands for it here.
    return Page(ws=None, **kwargs)  # type: ignore[arg-type]


def test_a_page_gets_the_latest_state_of_each_light_once() -> None:
    p = page(universes={1})
    p.take(Tick(fixtures={"3": '{"state":"ON","brightness":10}'}, levels={1: '"00ff"'}))
    p.take(Tick(fixtures={"3": '{"state":"ON","brightness":20}', "4": '{"state":"OFF"}'}))
    assert p.ready.is_set()
    assert json.loads(p.message()) == {
        "fixtures": {"3": {"state": "ON", "brightness": 20}, "4": {"state": "OFF"}},
        "levels": {"1": "00ff"},
    }
    assert not p.pending()
    assert p.message() == "{}"


def test_a_page_gets_only_what_it_shows() -> None:
    universes = page(universes={2}, states=False)
    universes.take(Tick(fixtures={"3": "{}"}, groups={"1": "{}"}, levels={1: '"aa"'}))
    assert not universes.pending()
    assert not universes.ready.is_set()
    universes.take(Tick(levels={2: '"bb"'}, health='{"healthy":true}'))
    assert json.loads(universes.message()) == {"levels": {"2": "bb"}, "health": {"healthy": True}}


def test_a_slow_page_keeps_only_the_newest_lines_and_a_reload_drops_stale_states() -> None:
    p = page()
    for n in range(MAX_LINES + 10):
        p.take(Tick(problems=[json.dumps({"text": f"p{n}"})]))
    p.reload = True
    p.fixtures.clear()
    sent = json.loads(p.message())
    assert sent["reload"] is True
    assert len(sent["problems"]) == MAX_LINES
    assert sent["problems"][-1] == {"text": f"p{MAX_LINES + 9}"}
    assert "fixtures" not in sent
