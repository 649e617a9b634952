"""Debian's chromium driven by Playwright (`make browser` installs it; no browser download).

    with chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        ready(page)            # the page's script ran and its live updates are connected

Used by the web page's tests (tests/integration/web) and its benchmark (bench/scenarios/web.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserMissingError(RuntimeError):
    pass


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless chromium (Playwright's sync API), closed at the end."""
    if not CHROMIUM.exists():
        raise BrowserMissingError(f"{CHROMIUM} is missing: `make browser` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def ready(page: Any, timeout_ms: float = 5000) -> None:
    """Wait until the page's script has drawn it and its websocket is connected."""
    page.wait_for_selector("body[data-ready='1']", state="attached", timeout=timeout_ms)
    page.wait_for_selector("#conn.on", state="attached", timeout=timeout_ms)
