"""The list of extensions: adding a feature is one file and one line here.

Built once per process by the controller, which hands over the `Context` every
extension may use and itself as the `Host` the API layer's extensions need; it
routes each extension's topics to it, subscribes its event handlers on the bus
under its name, merges its Home Assistant device triggers into discovery, and
starts and stops it with the bridge (a failing start is logged and the extension
skipped).
"""

from __future__ import annotations

from tau.api.homeassistant import HomeAssistantExtension
from tau.api.host import Host
from tau.api.profile_requests import ProfileRequests
from tau.api.requests import BridgeRequests
from tau.api.status import BridgeStatus
from tau.core.extension import Context, Extension
from tau.features.circadian.engine import CircadianClock, CircadianEngine
from tau.features.circadian.extension import CircadianExtension
from tau.features.effects import EffectsExtension
from tau.features.scene_extension import ScenesExtension
from tau.features.switches.extension import SwitchesExtension


def build_extensions(
    ctx: Context, host: Host, circadian: CircadianEngine, clock: CircadianClock
) -> list[Extension]:
    return [
        # the API layer's: what Home Assistant and operators see of the bridge
        HomeAssistantExtension(
            ctx,
            host.session.publish,
            host.device_triggers,
            host.state_publisher,
            host.nodes,
            host.session.read_retained,
        ),
        BridgeStatus(ctx, host.renderer, host.writer, host.session, host.scope, host.nodes),
        BridgeRequests(host),
        ProfileRequests(host),
        # the features
        CircadianExtension(ctx, circadian, clock),
        ScenesExtension(ctx),
        EffectsExtension(ctx),
        SwitchesExtension(ctx),
    ]
