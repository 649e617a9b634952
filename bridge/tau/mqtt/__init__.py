"""MQTT: session, topic routing, Home Assistant discovery, state publication, bridge API."""
