"""`RefuseSubscribe`: an amqtt topic plugin whose refusals a test changes while the broker runs.

amqtt's own ACL plugin (`TopicAccessControlListPlugin`) is an allow list fixed at start;
this one reads a JSON list of topic filters from `refuse_file` at every SUBSCRIBE and
refuses any filter within one of them (amqtt's matching: `+` one level, `#` the rest).
The broker answers a refused filter with SUBACK return code 0x80, as for an ACL that
denies it; rewriting the file makes the broker grant it at the next SUBSCRIBE. Each
refusal is appended to `<refuse_file>.refusals` (`refusals()` reads them), so a test
sees how often a client asked. Publish and delivery are never checked.

`OwnedBroker(kind="amqtt", refuse_file=path)` loads it; the broker process imports it
from the repository root (amqtt is installed wherever the suite runs: it is the
embedded broker of `tau run`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from amqtt.contexts import Action
from amqtt.plugins.base import BaseTopicPlugin
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session


def refused_filters(path: Path) -> list[str]:
    """The filters listed in `path` now (none when it is missing or not a JSON list)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [f for f in found if isinstance(f, str)] if isinstance(found, list) else []


def refusals_path(refuse_file: Path) -> Path:
    return refuse_file.with_name(refuse_file.name + ".refusals")


def refusals(refuse_file: Path, topic: str) -> list[float]:
    """The wall-clock times the broker refused a SUBSCRIBE to `topic`."""
    try:
        lines = refusals_path(refuse_file).read_text().splitlines()
    except OSError:
        return []
    entries = [json.loads(line) for line in lines if line.strip()]
    return [float(e["t"]) for e in entries if e["topic"] == topic]


class RefuseSubscribe(BaseTopicPlugin):
    @dataclass
    class Config:
        refuse_file: str = ""

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool | None:
        if action != Action.SUBSCRIBE or not topic:
            return True
        path = Path(self.config.refuse_file)
        if not any(TopicAccessControlListPlugin.topic_ac(topic, f) for f in refused_filters(path)):
            return True
        with refusals_path(path).open("a") as out:
            out.write(json.dumps({"t": time.time(), "topic": topic}) + "\n")
        return False
