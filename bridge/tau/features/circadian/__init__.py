"""Circadian lighting: `profile` (keyframe maths, pure) and `engine` (assignment, tick)."""
