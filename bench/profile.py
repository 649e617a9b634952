"""`--profile`: sample each bridge with py-spy while a scenario runs, summarise where the
time went.

py-spy attaches to the running bridge (no change to how it is started) and writes raw
stacks when it gets SIGINT. Only the thread holding the GIL is sampled, so the summary
is where the CPU went: the share of samples in which a function is on the stack
(inclusive), with the frames every sample shares (runpy, the event loop) left out.
A missed target is reported with the table this prints.
"""

from __future__ import annotations

import collections
import contextlib
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Frames under which everything runs: they say nothing about where the time goes.
_EVERYWHERE = {
    "_run_module_as_main",
    "_run_code",
    "<module>",
    "main",
    "run",
    "Runner.run",
    "_run_loop",
}


def py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


@dataclass(slots=True)
class Profile:
    """One bridge's samples over one scenario."""

    label: str
    samples: int = 0
    top: list[tuple[str, float]] = field(default_factory=list)  # (function, % of samples)
    owners: list[tuple[str, float]] = field(default_factory=list)  # (who, % of self time)


class Profiler:
    def __init__(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self.profiles: list[Profile] = []
        self.missing: str | None = None if py_spy() else "py-spy is not installed"

    def attach(self, label: str, pid: int) -> None:
        exe = py_spy()
        if exe is None:
            return
        path = self._out_dir / f"{label}.spy.txt"
        proc = subprocess.Popen(
            # --gil: only the thread running Python code, so idle threads do not count.
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--gil",
                "--rate",
                "200",
                "-f",
                "raw",
                "-o",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._running.append((label, proc, path))

    def detach_all(self) -> None:
        """Stop every sampler (they write on SIGINT) and summarise what they wrote."""
        for label, proc, path in self._running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if path.exists():
                self.profiles.append(summarise(label, path))
            else:
                reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                self.profiles.append(Profile(f"{label} (py-spy failed: {reason[0]})"))
        self._running.clear()

    def markdown(self, most: int = 15) -> str:
        parts = []
        for p in self.profiles:
            parts.append(f"\n**Profile {p.label}** — py-spy, {p.samples} samples, inclusive\n")
            parts.append("| % of samples | function |\n|---|---|")
            parts.extend(f"| {share:.1f} | `{name}` |" for name, share in p.top[:most])
            if p.owners:
                parts.append(f"\n**Where {p.label}'s time went** — self time by owner\n")
                parts.append("| % of samples | owner |\n|---|---|")
                parts.extend(f"| {share:.1f} | {who} |" for who, share in p.owners)
        return "\n".join(parts)


# Self time (the innermost frame) by who owns the code: the MQTT client library, the
# event loop, Tau's MQTT session, the rest of Tau, and the libraries Tau calls.
_OWNERS = (
    ("/paho/", "MQTT client: paho-mqtt"),
    ("/aiomqtt/", "MQTT client: aiomqtt"),
    ("/tau/mqtt/", "Tau: MQTT session and outbox"),
    ("/tau/", "Tau: commands, store, render, publish"),
    ("/asyncio/", "event loop (asyncio/uvloop)"),
    ("/uvloop/", "event loop (asyncio/uvloop)"),
    ("/json/", "json (Tau's payloads)"),
    ("/pydantic", "pydantic (Tau's command parsing)"),
)


def owner(path: str) -> str:
    path = "/" + path  # py-spy shows paths from the import root: "paho/mqtt/client.py"
    for marker, who in _OWNERS:
        if marker in path:
            return who
    return "other"


def summarise(label: str, path: Path, most: int = 25) -> Profile:
    """Inclusive share per function (`name (file)`) from py-spy's raw (collapsed) format."""
    counts: collections.Counter[str] = collections.Counter()
    owners: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        total += int(n)
        leaf = stack.rsplit(";", 1)[-1]
        owners[owner(leaf.partition(" (")[2])] += int(n)
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            if name in _EVERYWHERE:
                continue
            key = f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"
            if key not in seen:
                seen.add(key)
                counts[key] += int(n)
    top = [(k, 100.0 * v / total) for k, v in counts.most_common(most)] if total else []
    split = [(k, 100.0 * v / total) for k, v in owners.most_common()] if total else []
    return Profile(label, total, top, split)
