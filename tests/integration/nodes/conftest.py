"""Three bridge nodes on one installation: the rig of the "Several bridges" end-to-end tests.

One database, one broker, one base topic; three `tau run` processes (alpha, bravo,
charlie) with the default lease (2 s), each reaching PostgreSQL through its own
`TcpProxy` so a test can cut one node alone off the database:

    universe 1  USB Pro (emulated)   alpha only
    universe 2  USB Pro (emulated)   bravo only
    universe 3  Art-Net (loopback)   alpha, bravo and charlie: one owner, two standbys
    universe 4  sACN (loopback)      charlie only

Fixtures are one-channel linear dimmers (a slot is the brightness):
`u<N>-<k>` on universe N, channel k (k = 1..3), all in group `everywhere`;
`circ-3`/`circ-4` (channel 10 of universes 3/4) in group `circ` with a circadian
profile; `sw-3`/`sw-4` (channel 20) in group `sw`, the target of a momentary push
button on a foreign input topic. Circadian runs on UTC with the clock under test
control.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from testkit.cluster import Cluster, Node
from testkit.db import DATABASE_DIR, create_database, drop_database, run_async
from testkit.enttec import EnttecEmulator
from testkit.mqtt import MqttProbe
from testkit.proxy import TcpProxy
from testkit.receivers import E131, ArtDmx, ArtNetReceiver, SacnReceiver
from testkit.services import MqttServer

NODES = ("alpha", "bravo", "charlie")
CHANNELS = (1, 2, 3)  # u<N>-<k> sits on channel k of universe N
CIRC_CHANNEL = 10
SWITCH_CHANNEL = 20
# 00:00 UTC 20 % → 12:00 UTC 100 %, back to 20 % at midnight: 06:00 is 60 %, 18:00 60 %.
PROFILE = [
    {"at": "00:00", "brightness": 20, "kelvin": 2700},
    {"at": "12:00", "brightness": 100, "kelvin": 2700},
]
FOREIGN = f"z2m-{uuid.uuid4().hex[:8]}"
BUTTON_TOPIC = f"{FOREIGN}/hall-button/action"


def pct_to_255(pct: float) -> int:
    return round(pct * 255 / 100)


async def _build(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute((DATABASE_DIR / "seeds" / "03-switch-models.sql").read_text())
    model = await conn.fetchval(
        "INSERT INTO fixture_models (manufacturer, model, channels, min_kelvin, max_kelvin, "
        "dimming_curve, min_level) VALUES ('Test', 'dimmer', '[\"dimmer\"]', 2700, 6500, "
        "'linear', 0) RETURNING id"
    )
    ids: dict[str, int] = {}

    async def fixture(slug: str, universe: int, channel: int) -> int:
        ids[slug] = await conn.fetchval(
            "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
            "VALUES ($1, $1, $2, $3, $4) RETURNING id",
            slug,
            model,
            universe,
            channel,
        )
        return ids[slug]

    async def group(slug: str, members: list[int], profile: int | None = None) -> None:
        ids[slug] = await conn.fetchval(
            "INSERT INTO groups (name, slug, circadian_profile_id) VALUES ($1, $1, $2) "
            "RETURNING id",
            slug,
            profile,
        )
        await conn.executemany(
            "INSERT INTO group_fixtures (group_id, fixture_id) VALUES ($1, $2)",
            [(ids[slug], m) for m in members],
        )

    everywhere = [await fixture(f"u{u}-{k}", u, k) for u in (1, 2, 3, 4) for k in CHANNELS]
    await group("everywhere", everywhere)
    profile = await conn.fetchval(
        "INSERT INTO circadian_profiles (name, keyframes) VALUES ('Day', $1::jsonb) RETURNING id",
        json.dumps(PROFILE),
    )
    circ = [await fixture(f"circ-{u}", u, CIRC_CHANNEL) for u in (3, 4)]
    await group("circ", circ, profile)
    await group("sw", [await fixture(f"sw-{u}", u, SWITCH_CHANNEL) for u in (3, 4)])
    button = await conn.fetchval(
        "SELECT id FROM switch_models WHERE manufacturer = 'Generic' "
        "AND model = 'Momentary push button'"
    )
    ids["hall-button"] = await conn.fetchval(
        "INSERT INTO switches (name, slug, switch_model_id, target_group_id, input_topic, "
        "double_tap_ms, hold_ms, dim_speed_ms) VALUES ('hall-button', 'hall-button', $1, $2, "
        "$3, 200, 300, 2000) RETURNING id",
        button,
        ids["sw"],
        BUTTON_TOPIC,
    )
    return ids


def build_installation(url: str) -> dict[str, int]:
    async def main() -> dict[str, int]:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            async with conn.transaction():
                return await _build(conn)
        finally:
            await conn.close()

    return run_async(main)


@dataclass
class Rig:
    """The running cluster and everything a test looks at."""

    cluster: Cluster
    widgets: dict[int, EnttecEmulator]  # universe -> widget
    artnet: ArtNetReceiver  # universe 3
    sacn: SacnReceiver  # universe 4
    proxies: dict[str, TcpProxy]  # node -> its way to PostgreSQL
    probe: MqttProbe
    ids: dict[str, int] = field(default_factory=dict)

    def topic(self, *parts: str) -> str:
        return self.cluster.topic(*parts)

    def set(self, kind: str, slug: str, payload: str | Mapping[str, Any]) -> None:
        body = json.dumps(payload) if isinstance(payload, Mapping) else payload
        self.probe.publish(self.topic(kind, slug, "set"), body)

    def request(
        self, name: str, body: Mapping[str, Any] | None = None, timeout: float = 5
    ) -> dict[str, Any]:
        """A bridge request and its reply (whatever its status), matched by transaction."""
        transaction = uuid.uuid4().hex[:10]
        mark = self.probe.mark()
        self.probe.publish(
            self.topic("bridge", "request", *name.split("/")),
            json.dumps({**(body or {}), "transaction": transaction}),
        )
        reply: dict[str, Any] = self.probe.wait_json(
            self.topic("bridge", "response", *name.split("/")),
            lambda d: d.get("transaction") == transaction,
            timeout,
            after=mark,
        )
        return reply

    # -- nodes

    def down(self) -> list[str]:
        return [b.name for b in self.cluster if not b.running]

    def revive(self) -> None:
        """Start every node that is not running (killed by an earlier test) and wait for it."""
        down = self.down()
        if down:
            self.cluster.start(down)
            self.cluster.wait_holder("leader")

    def standbys_settled(self, resource: str, timeout: float = 10) -> tuple[str, set[str]]:
        """The holder of `resource` once every other running node that outputs it stands by."""
        running = {b.name for b in self.cluster if b.running}  # all three output universe 3
        leases = self.cluster.wait_leases(
            lambda ls: (
                resource in ls and set(ls[resource].standbys) == running - {ls[resource].holder}
            ),
            timeout,
            f"{resource} held with every other running node on standby",
        )
        lease = leases[resource]
        return lease.holder, set(lease.standbys)

    # -- DMX as the outputs see it

    def slot(self, universe: int, channel: int) -> int | None:
        """The latest value of `channel` on `universe` (None before any frame)."""
        if universe in self.widgets:
            frame = self.widgets[universe].latest()
            return frame.slot(channel) if frame else None
        rx: ArtNetReceiver | SacnReceiver = self.artnet if universe == 3 else self.sacn
        packets = rx.packets
        return packets[-1].slot(channel) if packets else None

    def wait_slots(self, expected: Mapping[int, Mapping[int, int]], timeout: float = 5) -> None:
        """Every universe's latest frame shows `expected[universe][channel]`."""
        deadline = time.monotonic() + timeout
        while True:
            got = {u: {c: self.slot(u, c) for c in chs} for u, chs in expected.items()}
            if got == {u: dict(chs) for u, chs in expected.items()}:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"DMX {dict(expected)} not seen within {timeout} s; got {got}")
            time.sleep(0.01)


def everywhere(value: int) -> dict[int, dict[int, int]]:
    return {u: dict.fromkeys(CHANNELS, value) for u in (1, 2, 3, 4)}


def sources(packets: list[ArtDmx] | list[E131]) -> list[str]:
    """The senders in the order they first appear."""
    seen: list[str] = []
    for p in packets:
        if p.source not in seen:
            seen.append(p.source)
    return seen


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


@pytest.fixture(scope="module")
def rig(
    request: pytest.FixtureRequest,
    pg_admin_url: str,
    mqtt_server: MqttServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Rig]:
    log_dir: Path = tmp_path_factory.mktemp("nodes")
    name = f"tau_test_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_admin_url, name, schema=True, seeds=False)
    ids = build_installation(url)
    pg = url_host_port(url)
    with (
        EnttecEmulator(log_dir / "w1") as w1,
        EnttecEmulator(log_dir / "w2") as w2,
        ArtNetReceiver() as artnet,
        SacnReceiver() as sacn,
        MqttProbe(mqtt_server.host, mqtt_server.port) as probe,
    ):
        proxies = {n: TcpProxy(pg) for n in NODES}
        art = {"driver": "artnet", "host": artnet.host, "port": artnet.port, "universe": 2}
        sac = {"driver": "sacn", "host": sacn.host, "port": sacn.port, "universe": 4}
        cluster = Cluster(
            database_url=url,
            mqtt=mqtt_server,
            log_dir=log_dir,
            env={
                "TAU_CIRCADIAN__CLOCK_CONTROL": "true",
                "TAU_CIRCADIAN__TICK_SECONDS": "0.5",
                "TAU_LOCATION__TIMEZONE": "UTC",
            },
            nodes=[  # each node reaches PostgreSQL through its own proxy
                Node(name, universes, database_url=with_port(url, proxies[name].port))
                for name, universes in (
                    ("alpha", {"1": {"driver": "enttec_pro", "port": w1.port}, "3": art}),
                    ("bravo", {"2": {"driver": "enttec_pro", "port": w2.port}, "3": art}),
                    ("charlie", {"4": sac, "3": art}),
                )
            ],
        )
        request.node.stash[CLUSTER] = cluster
        try:
            probe.subscribe(f"{cluster.base_topic}/#")
            probe.subscribe(f"{cluster.discovery_prefix}/#")
            cluster.start()
            yield Rig(cluster, {1: w1, 2: w2}, artnet, sacn, proxies, probe, ids)
            assert w1.errors == w2.errors == artnet.errors == sacn.errors == []
        finally:
            cluster.close()
            for proxy in proxies.values():
                proxy.close()
            drop_database(pg_admin_url, name)


def url_host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def with_port(url: str, port: int) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


CLUSTER = pytest.StashKey[Cluster]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for node in item.listchain():
            cluster = node.stash.get(CLUSTER, None)
            if cluster is not None:
                for bridge in cluster:
                    report.sections.append(
                        (f"{bridge.name} log tail ({bridge.log_path})", bridge.log_tail(40))
                    )
    return report
