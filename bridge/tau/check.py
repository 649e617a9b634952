"""`tau check`: validate the configuration and try every dependency once.

Prints one line per part (`OK` or `FAILED` with the reason and the fix) and
exits non-zero when anything failed. Secrets never appear in the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass

import aiomqtt
import asyncpg

from tau.db.connect import explain, invalid_dsn, plain_dsn, redact
from tau.dmx.drivers import build_output
from tau.errors import ConfigurationError, TauError
from tau.mqtt.client import client_options, explain_connect_error
from tau.settings import Settings, config_file, load_settings


@dataclass(slots=True)
class Result:
    part: str
    ok: bool
    detail: str


async def check_database(settings: Settings) -> Result:
    """Connect and query: the schema revision and the number of fixtures, for real."""
    if settings.database_url is None:
        return await check_embedded_database(settings)
    url = settings.database_url.get_secret_value()
    return await _query(url, redact(url))


async def check_embedded_database(settings: Settings) -> Result:
    """Start (or join) the embedded PostgreSQL `tau run` would use, then query it."""
    from tau.embedded import (
        data_directory,
        embedded_database_url,
        stop_embedded_database_if_unused,
    )

    pgdata = data_directory(settings) / "postgres"
    where = f"embedded PostgreSQL at {pgdata}"
    try:
        url = await asyncio.to_thread(embedded_database_url, settings)
        return await _query(url, where, started=True)
    except TauError as exc:
        return Result("database", False, f"{where}: {exc}")
    finally:
        await asyncio.to_thread(stop_embedded_database_if_unused, settings)


async def _query(url: str, where: str, *, started: bool = False) -> Result:
    try:
        conn = await asyncpg.connect(plain_dsn(url), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return Result("database", False, explain(exc, url))
    except (asyncpg.ClientConfigurationError, ValueError) as exc:
        return Result("database", False, str(invalid_dsn(exc)))
    prefix = f"{where}: started, " if started else f"{where}: connected, "
    try:
        revision = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
        fixtures = await conn.fetchval("SELECT count(*) FROM fixtures")
    except asyncpg.UndefinedTableError:
        if started:  # `tau run` migrates the embedded database itself
            return Result("database", True, f"{prefix}empty (`tau run` creates the schema)")
        return Result("database", False, f"{where} has no Tau schema: run `tau db upgrade`")
    except asyncpg.PostgresError as exc:
        return Result("database", False, f"{where}: {exc}")
    finally:
        await conn.close()
    return Result("database", True, f"{prefix}schema revision {revision}, {fixtures} fixtures")


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


def _configuration_sources() -> str:
    """Where the (valid) settings came from, so a forgotten file or variable shows."""
    variables = sorted(k for k in os.environ if k.upper().startswith("TAU_"))
    sources = []
    if variables:
        sources.append(f"{len(variables)} TAU_ variable{'s' if len(variables) != 1 else ''}")
    if config_file().is_file():
        sources.append(str(config_file()))
    return "valid: " + (" and ".join(sources) if sources else "all defaults") + " read"


async def _run_checks(settings: Settings) -> list[Result]:
    database, broker = await asyncio.gather(check_database(settings), check_broker(settings))
    return [
        Result("configuration", True, _configuration_sources()),
        database,
        broker,
        *await check_outputs(settings),
    ]


def run_check() -> int:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        for line in str(exc).splitlines():
            print(f"configuration  FAILED  {line}")
        return 2
    results = asyncio.run(_run_checks(settings))
    width = max(len(r.part) for r in results)
    for r in results:
        print(f"{r.part:<{width}}  {'OK' if r.ok else 'FAILED':<6}  {r.detail}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} check(s) failed", file=sys.stderr)
        return 1
    print(f"all {len(results)} checks passed")
    return 0
