"""The test suite's fast-forward for the bridge's retry and reminder timings.

    TAU_TEST_TIME_SCALE=0.1 tau run   # every backoff and "still waiting" reminder 10x shorter

Not a user setting (not in the README's configuration table): the fault tests start the
bridge with it so that a backoff that grows, a reminder every 10 s or a connection that
counts as stable after 30 s can be watched in a tenth of the time. Unset, the scale is 1
and every production timing stays what its module says.
"""

from __future__ import annotations

import os

ENV = "TAU_TEST_TIME_SCALE"


def time_scale() -> float:
    """The factor (0 < scale <= 1) applied to retry delays and reminder periods."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not 0 < scale <= 1:
        raise ValueError(f"{ENV} must be a number in (0, 1], got {text!r}")
    return scale
