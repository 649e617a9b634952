"""`tau run --demo` keeps to its own topics unless a base topic was configured."""

from __future__ import annotations

import pytest

from tau.core.topics import Topics
from tau.settings import DEMO_BASE_TOPIC, demo_settings, load_settings


def test_the_demo_has_its_own_base_topic_client_id_and_discovery_node_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./tau.toml
    for name in ("TAU_MQTT__BASE_TOPIC", "TAU_CONFIG_FILE", "TAU_MQTT__CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TAU_NODE__NAME", "pi")
    home, demo = load_settings(), demo_settings(load_settings())
    assert (home.mqtt.base_topic, demo.mqtt.base_topic) == ("tau", DEMO_BASE_TOPIC)
    assert (home.client_id, demo.client_id) == ("tau-tau-pi", "tau-tau-demo-pi")
    assert Topics.of(home).node_id == "tau" and Topics.of(demo).node_id == "tau-demo"
    assert Topics.of(demo).discovery_configs == "homeassistant/+/tau-demo/+/config"
    assert demo.mqtt.host == home.mqtt.host  # nothing else changes


def test_a_configured_base_topic_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAU_CONFIG_FILE", raising=False)
    monkeypatch.setenv("TAU_MQTT__BASE_TOPIC", "tau")
    assert demo_settings(load_settings()).mqtt.base_topic == "tau"
