"""The list of extensions: adding a feature is one file and one line here.

Built once per process by `app.py` and handed to the controller, which routes
each extension's topics to it, subscribes its event handlers on the bus under
its name, merges its Home Assistant device triggers into discovery, and starts
and stops it with the bridge (a failing start is logged and the extension
skipped).
"""

from __future__ import annotations

from tau.core.extension import Context, Extension
from tau.features.circadian.engine import CircadianClock, CircadianEngine
from tau.features.circadian.extension import CircadianExtension
from tau.features.scene_extension import ScenesExtension
from tau.features.switches.extension import SwitchesExtension


def build_extensions(
    ctx: Context, circadian: CircadianEngine, clock: CircadianClock
) -> list[Extension]:
    return [
        CircadianExtension(ctx, circadian, clock),
        ScenesExtension(ctx),
        SwitchesExtension(ctx),
    ]
