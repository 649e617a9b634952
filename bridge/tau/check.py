"""`tau check`: validate the configuration and try every dependency once.

Prints one line per part (`OK` or `FAILED` with the reason and the fix) and
exits non-zero when anything failed. Secrets never appear in the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass

import aiomqtt
import asyncpg

from tau.db.connect import explain, plain_dsn, redact
from tau.dmx.drivers import build_output
from tau.errors import ConfigurationError
from tau.mqtt.session import client_options, explain_connect_error
from tau.settings import Settings, load_settings


@dataclass(slots=True)
class Result:
    part: str
    ok: bool
    detail: str


async def check_database(settings: Settings) -> Result:
    if settings.database_url is None:
        return Result("database", True, "embedded PostgreSQL (started by `tau run`)")
    url = settings.database_url.get_secret_value()
    try:
        conn = await asyncpg.connect(plain_dsn(url), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return Result("database", False, explain(exc, url))
    try:
        revision = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
        fixtures = await conn.fetchval("SELECT count(*) FROM fixtures")
    except asyncpg.UndefinedTableError:
        return Result("database", False, f"{redact(url)} has no Tau schema: run `tau db upgrade`")
    except asyncpg.PostgresError as exc:
        return Result("database", False, f"{redact(url)}: {exc}")
    finally:
        await conn.close()
    return Result("database", True, f"{redact(url)} (revision {revision}, {fixtures} fixtures)")


async def check_broker(settings: Settings) -> Result:
    """Connect as the bridge would (protocol, transport, TLS, credentials), subscribe to
    the bridge's availability topic and wait for the broker's SUBACK."""
    s = settings.mqtt
    where = f"{s.host}:{s.port}"
    options = client_options(s, f"{settings.client_id}-check", persistent=False)
    options["timeout"] = 5
    try:
        async with aiomqtt.Client(**options) as client:
            await client.subscribe(f"{s.base_topic}/bridge/state", qos=1)
    except aiomqtt.MqttError as exc:
        refused, explanation = explain_connect_error(exc, s)
        if not refused:
            explanation = f"cannot connect to {where}: {exc} — is the broker running?"
        return Result("broker", False, explanation)
    except (OSError, ValueError) as exc:
        return Result("broker", False, f"cannot connect to {where}: {exc}")
    how = f"MQTT {s.protocol} over {s.transport}" + (" with TLS" if s.tls else "")
    return Result("broker", True, f"{where} accepted a connection and a subscription ({how})")


async def check_outputs(settings: Settings) -> list[Result]:
    results = []
    if not settings.dmx.universes:
        return [Result("outputs", True, "none configured: a virtual output per patched universe")]
    for universe, config in sorted(settings.dmx.universes.items()):
        output = build_output(universe, config, settings.dmx.fps)
        await output.open()
        for _ in range(20):
            if output.status.state == "ok":
                break
            await asyncio.sleep(0.05)
        status = output.status
        with contextlib.suppress(Exception):
            await output.close()
        part = f"universe {universe} ({config.driver})"
        results.append(Result(part, status.state == "ok", status.last_error or status.detail))
    return results


async def _run_checks(settings: Settings) -> list[Result]:
    database, broker = await asyncio.gather(check_database(settings), check_broker(settings))
    return [
        Result("configuration", True, "valid"),
        database,
        broker,
        *await check_outputs(settings),
    ]


def run_check() -> int:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"configuration  FAILED  {exc}")
        return 1
    results = asyncio.run(_run_checks(settings))
    width = max(len(r.part) for r in results)
    for r in results:
        print(f"{r.part:<{width}}  {'OK' if r.ok else 'FAILED':<6}  {r.detail}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} check(s) failed", file=sys.stderr)
        return 1
    return 0
