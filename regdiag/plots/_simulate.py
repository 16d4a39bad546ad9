"""The simulated envelopes the Q-Q and half-normal plots draw: computed in :mod:`regdiag.linear.envelope`."""

from __future__ import annotations

from ..linear.envelope import (  # noqa: F401 - the plots' names for the numerical layer's envelope
    BATCH_ELEMENTS,
    GLM_WORK,
    THIN_ABOVE,
    Envelope,
    draw_glm_response,
    envelope,
    linear_student_from_draws,
    order_positions,
)

__all__ = ["Envelope", "order_positions", "linear_student_from_draws", "envelope", "draw_glm_response"]
