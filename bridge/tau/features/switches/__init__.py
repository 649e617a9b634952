"""Wall switches: `vocabulary` (actions → intents), `classifier` (raw presses), `engine`."""
