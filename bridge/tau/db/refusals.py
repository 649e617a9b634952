"""The database's refusals as one line a person can act on — the one place they are worded.

The schema's triggers already explain their rules (a DMX collision names the other
fixture, a group cycle or nesting depth names the groups, a bad slug says what a slug
may hold); those messages are kept, with their hint. The bare constraint errors
PostgreSQL raises itself (a slug taken twice, a missing reference) are reworded here.
"""

from __future__ import annotations

import re

import asyncpg

# table -> what a person calls a row of it
_NOUNS = {
    "fixtures": "fixture",
    "groups": "group",
    "scenes": "scene",
    "switches": "switch",
    "fixture_models": "fixture model",
    "circadian_profiles": "circadian profile",
}
# What a check constraint asks for, by its name: the database reports only the name.
RULES = {
    "circadian_profiles_take_over_valid": (
        'take_over must be "changed" (a manual change takes over only what it changed) '
        'or "all" (any manual level or colour takes over both)'
    ),
    "circadian_profiles_resume_after_s_positive": (
        "resume_after_s must be a number of seconds above 0, or null (a manual change is "
        "handed back only at the next off → on or by the Circadian switch)"
    ),
    "circadian_profiles_sleep_brightness_pct_range": (
        "sleep_brightness_pct must be above 0 and at most 100 (percent)"
    ),
    "circadian_profiles_sleep_kelvin_1000_20000": (
        "sleep_kelvin must be a whole number from 1000 to 20000 (kelvin), or null (each "
        "fixture's warmest white)"
    ),
}
_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<values>.*)\) already exists")


def _taken(exc: asyncpg.UniqueViolationError) -> str:
    noun = _NOUNS.get(getattr(exc, "table_name", None) or "", "row")
    match = _KEY.search(getattr(exc, "detail", None) or "")
    if match is None:
        return f"that {noun} already exists"
    columns, values = match["columns"], match["values"]
    if columns == "slug":
        return f"{noun} {values!r} already exists: choose another slug"
    return f"a {noun} with {columns} {values!r} already exists"


def refusal(exc: asyncpg.PostgresError) -> str:
    """The database's refusal in one line: its own message (and hint) for the rules its
    triggers explain, a plain sentence for the constraints PostgreSQL reports itself."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return _taken(exc)
    rule = RULES.get(getattr(exc, "constraint_name", None) or "")
    if isinstance(exc, asyncpg.CheckViolationError) and rule is not None:
        return rule
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        detail = getattr(exc, "detail", None) or str(exc)
        return f"refers to something that does not exist or is still in use: {detail}"
    message = str(getattr(exc, "message", None) or exc).splitlines()[0]
    hint = getattr(exc, "hint", None)
    return f"{message}; {hint}" if hint else message
