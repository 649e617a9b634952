"""The web page `tau run` serves (README "Web"): live universes, lights, patch, scenes,
circadian and switches, on the bridge's loop, through the same paths as MQTT."""
