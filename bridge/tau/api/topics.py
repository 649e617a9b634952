"""The topic layout, as the API layer imports it: defined once in `tau.core.topics`
(extensions publish on it too, and they may not import the API layer)."""

from tau.core.topics import Topics

__all__ = ["Topics"]
