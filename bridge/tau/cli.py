"""The `tau` command line: run, db (migrations, url, seed, dump, restore), check, fixtures,
fixture, group, patch, circadian, nodes, --version."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import sys
import traceback
from typing import Any

from tau import __version__
from tau.errors import ConfigurationError, TauError

log = logging.getLogger("tau")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tau", description="DMX512 lighting over MQTT")
    parser.add_argument("--version", action="version", version=f"tau {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bridge")
    run.add_argument("--demo", action="store_true", help="load the demo installation once")
    run.add_argument("--no-view", action="store_true", help="plain log output, no live view")

    db = sub.add_parser("db", help="database migrations (Alembic)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="upgrade to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="downgrade to a revision (e.g. -1 or base)")
    down.add_argument("revision")
    db_sub.add_parser("current", help="show the current revision")
    db_sub.add_parser("history", help="list revisions")
    db_sub.add_parser("url", help="print the database's DSN (for psql, pg_dump)")
    seed = db_sub.add_parser("seed", help="load the fixture and switch model catalogue")
    seed.add_argument("--demo", action="store_true", help="also load the demo home")
    dump = db_sub.add_parser("dump", help="back up to a plain SQL file (restores over a database)")
    dump.add_argument("file")
    restore = db_sub.add_parser("restore", help="restore a `tau db dump` file (stop Tau first)")
    restore.add_argument("file")
    restore.add_argument(
        "--force", action="store_true", help="restore even while a bridge uses the database"
    )

    sub.add_parser("check", help="validate configuration and test database, broker, outputs")

    from tau.db import nodes_cli
    from tau.fixtures import circadian_commands
    from tau.fixtures.cli import add_parsers

    add_parsers(sub)
    circadian_commands.add_parser(sub)
    nodes_cli.add_parser(sub)
    return parser


def run(demo: bool = False, view: bool = True) -> int:
    """`tau run`: load settings, run until SIGTERM/SIGINT."""
    from tau.app import App, configure_logging
    from tau.settings import demo_settings, load_settings
    from tau.view import attach_view, make_console, print_try_lines

    settings = load_settings()
    if demo:
        settings = demo_settings(settings)
    console = make_console() if view and sys.stdout.isatty() else None
    configure_logging(settings.log_level, console)
    app = App(settings, demo=demo)
    if console is not None:
        attach_view(app, console)
    else:
        app.on_ready = print_try_lines
    try:
        return _run_loop(app.run())
    except ConfigurationError:
        raise  # one `tau: ...` line per mistake, printed by the command line
    except TauError as exc:
        log.error("event=fatal error=%r", str(exc))
        print(f"tau: {exc}", file=sys.stderr)
        return 2


def _run_loop(main: Any) -> int:
    try:
        import uvloop
    except ImportError:
        return int(asyncio.run(main))
    return int(uvloop.run(main))


def report(exc: BaseException) -> None:
    """`tau: <line>` per line of the error; the traceback too when TAU_LOG_LEVEL=DEBUG."""
    if os.environ.get("TAU_LOG_LEVEL", "").upper() == "DEBUG":
        traceback.print_exception(exc, file=sys.stderr)
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"tau: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return run(demo=args.demo, view=not args.no_view)
        if args.command == "db" and args.db_command in ("url", "seed", "dump", "restore"):
            from tau.db import tools

            if args.db_command == "url":
                return tools.print_url()
            if args.db_command == "seed":
                return tools.seed(demo=args.demo)
            if args.db_command == "dump":
                return tools.dump(args.file)
            return tools.restore(args.file, force=args.force)
        if args.command == "db":
            from tau.db.migrate import run_db_command

            return run_db_command(args.db_command, getattr(args, "revision", None))
        if args.command == "check":
            from tau.check import run_check

            return run_check()
        if args.command in ("fixtures", "fixture", "group", "patch"):
            from tau.fixtures.cli import run_command

            return run_command(args)
        if args.command == "circadian":
            from tau.fixtures import circadian_commands

            return circadian_commands.run(args)
        if args.command == "nodes":
            from tau.db import nodes_cli

            return nodes_cli.run_command(args)
    except TauError as exc:
        report(exc)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`tau fixtures search par | head`): stop quietly
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
