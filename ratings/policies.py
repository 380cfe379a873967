"""Pairing policies for the simulator, by name: the engine's uniform one and the app's active one.

``active`` is exactly the policy that serves battles (``battles.core.pairing``,
pure NumPy), with the app's default settings, so that
``python -m ratings simulate --policy active`` measures what voters get.
"""

from __future__ import annotations

import numpy as np

from battles.core.pairing import DEFAULTS, PairingState, plan_batch
from ratings.engine.simulate import POLICIES as ENGINE_POLICIES
from ratings.engine.simulate import PairingPolicy, PolicyState


def app_active_policy(**options) -> PairingPolicy:
    settings = {**DEFAULTS, **options}

    def active(state: PolicyState, rng: np.random.Generator, size: int) -> np.ndarray:
        pairing_state = PairingState(
            ratings=state.ratings,
            covariance=state.covariance,
            votes=state.pair_votes.sum(axis=1),
            families=list(range(len(state.models))),
            target_halfwidth=state.target_halfwidth,
            top1_epsilon=state.top1_epsilon,
            top1_confidence=state.top1_confidence,
        )
        return plan_batch(pairing_state, rng, size, **settings)

    active.__name__ = "active"
    return active


POLICIES: dict[str, PairingPolicy] = {**ENGINE_POLICIES, "active": app_active_policy()}
