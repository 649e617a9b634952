"""`python -m bench [--quick] [--only single,group] [--samples N] [--loop asyncio] [--profile]`.

Prints one Markdown table and writes it, with the raw figures, to
`bench/results/<timestamp>.json`. Exit status 0 unless the harness itself broke
(a scenario raising counts as broken; a missed target never does).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from bench.harness import RESULTS_DIR, Bench, Options, Row, Services, machine_info, markdown
from bench.harness import write_results as write
from bench.scenarios import NEEDS_BASELINE, SCENARIOS


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 2 minutes)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated scenarios: {','.join(SCENARIOS)} (baseline is added when needed)",
    )
    parser.add_argument(
        "--samples", type=int, default=None, help="override the sample count of latency scenarios"
    )
    parser.add_argument(
        "--loop",
        choices=("default", "asyncio"),
        default="default",
        help="bridge event loop: default (uvloop when installed) or plain asyncio",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--keep", action="store_true", help="keep databases and bridge logs for inspection"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample each bridge with py-spy and print where its time went",
    )
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    return Options(
        quick=args.quick,
        samples=args.samples,
        only=only,
        results_dir=args.results_dir,
        event_loop=args.loop,
        keep=args.keep,
        profile=args.profile,
    )


def selected(options: Options) -> list[str]:
    names = list(options.only or SCENARIOS)
    if NEEDS_BASELINE & set(names) and "baseline" not in names:
        names.insert(0, "baseline")
    return [n for n in SCENARIOS if n in names]


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = time.monotonic()
    info = machine_info()
    print(
        f"[bench] {info['cores']} cores, Python {info['python']}, commit {info['commit'][:12]}"
        f"{' (bridge/ modified)' if info['bridge_dirty'] else ''}, {info['event_loop']}, "
        f"{'quick' if options.quick else 'full'} run",
        file=sys.stderr,
        flush=True,
    )
    services = Services()
    info["services"] = services.describe()
    if options.event_loop == "asyncio":
        info["event_loop"] = "asyncio (uvloop hidden from the bridge)"
    bench = Bench(options, services)
    rows: list[Row] = []
    broken = False
    try:
        for name in selected(options):
            t0 = time.monotonic()
            bench.log(f"scenario {name}")
            bench.scenario = name
            try:
                rows.extend(SCENARIOS[name].run(bench))
            except Exception as exc:
                broken = True
                traceback.print_exc()
                rows.append(Row(name, "(scenario failed)", notes=f"error: {exc!r}"[:300]))
            finally:
                bench.cleanup()
            bench.log(f"scenario {name} took {time.monotonic() - t0:.1f} s")
    finally:
        bench.close()
        services.close()
    info["duration_s"] = round(time.monotonic() - started, 1)
    table = markdown(rows)
    print(
        f"\n**Tau bench** — {info['cores']} cores, Python {info['python']}, "
        f"commit `{info['commit'][:12]}`, {info['event_loop']}, "
        f"{'quick' if options.quick else 'full'} run, {info['duration_s']} s\n"
    )
    print(table)
    if bench.profiler is not None:
        if bench.profiler.missing:
            print(f"\nno profile: {bench.profiler.missing}")
        print(bench.profiler.markdown())
        info["profiles"] = [asdict(p) for p in bench.profiler.profiles]
    path = write(
        rows,
        info,
        {
            "quick": options.quick,
            "only": list(options.only),
            "samples": options.samples,
            "loop": options.event_loop,
            "profile": options.profile,
        },
        options.results_dir,
    )
    print(f"\nresults: {path}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
