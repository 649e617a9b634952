"""Tau: DMX512 lighting from a PostgreSQL-held installation model, over MQTT."""

__version__ = "0.1.0"
