"""Running the `tau` command line in-process, as a test sees it."""

from __future__ import annotations

import pytest

from tau.cli import main

Run = tuple[int, str, str]


def run_tau(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """`tau ARGS...` through `tau.cli.main`: (exit status, stdout, stderr)."""
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err
