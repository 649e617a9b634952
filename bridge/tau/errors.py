"""The errors Tau raises, each written for the person reading the log or the terminal."""

from __future__ import annotations


class TauError(Exception):
    """Base of every error Tau reports to a user."""


class InvalidCommandError(TauError):
    """A payload that cannot be parsed or is out of range; nothing was changed."""


class UnknownTargetError(TauError):
    """A topic or request names a fixture, group, scene or switch that does not exist."""


class ConfigurationError(TauError):
    """Settings or the installation model are invalid; the message lists every problem."""


class DatabaseError(TauError):
    """PostgreSQL refused a change or is unreachable; the message says which and why."""


class RefusedError(TauError):
    """A change to the installation was refused and nothing changed: the message says why,
    in the same words whichever way the change came (CLI, bridge request, web page)."""
