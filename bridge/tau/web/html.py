"""The small HTML pieces every page's body is made of: every value escaped."""

from __future__ import annotations

from html import escape


def e(value: object) -> str:
    return escape(str(value), quote=True)


def table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def state(ok: bool, text: str) -> str:
    return f'<span class="st {"ok" if ok else "bad"}">{e(text)}</span>'


def field(name: str, label: str, kind: str = "text", extra: str = "") -> str:
    return f'<label>{e(label)} <input name="{e(name)}" type="{kind}" {extra}></label>'
