"""`testing/fail`: the bridge request that arms a fault point (only with
TAU_SUPERVISOR__FAULT_INJECTION), so the reliability tests can make a part fail as a
bug would and watch the supervisor restart it."""

from __future__ import annotations

import logging

from tau.core.extension import ExtensionRequest, RequestBody
from tau.errors import InvalidCommandError
from tau.supervisor import FAULT_POINTS, inject

# The name operators know from the log lines (`tau.bridge event=fault_armed ...`).
log = logging.getLogger("tau.bridge")

__all__ = ["FAULT_REQUEST", "FaultBody", "inject_fault"]


class FaultBody(RequestBody):
    part: str


def inject_fault(body: FaultBody) -> dict[str, str]:
    """The part's next checkpoint raises once, as a bug would."""
    if body.part not in FAULT_POINTS:
        known = ", ".join(sorted(FAULT_POINTS))
        raise InvalidCommandError(f"unknown part {body.part[:40]!r}; parts: {known}")
    inject(body.part)
    log.warning("event=fault_armed part=%s", body.part)
    return {"armed": body.part}


FAULT_REQUEST: ExtensionRequest = (FaultBody, inject_fault)
