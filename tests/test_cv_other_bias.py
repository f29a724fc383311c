"""The held-out "other" bias of devtools/cv_capacity.py (round 14, docs/knowledge-changes-round14-r14refit.md).

Why: the measurement that decided not to ship the bias read probabilities re-weighted by
``with_other_bias``; in its emergency-sparing form ("other" may never lower an emergency triage) an
emergency's probability must not move at all, and the rest must still be a distribution with "other"'s
odds against the non-emergencies multiplied by e^bias. A bug here would have judged another model.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from devtools.cv_capacity import with_other_bias
from devtools.cv_posterior import Row
from tests.clinical.realcases import RealCase


def _row(p: list[float]) -> Row:
    probs = np.array(p)
    return Row(cast(RealCase, None), probs, probs.copy(), (), False)  # the bias never reads the case


@pytest.mark.parametrize("bias", [-1.0, 0.25, 1.5])
def test_sparing_the_emergencies_keeps_their_probability_and_moves_other_against_the_rest(bias: float) -> None:
    # columns: other, emergency A, non-emergency B, non-emergency C, emergency D
    spared = np.array([False, True, False, False, True])
    before = _row([0.1, 0.2, 0.3, 0.25, 0.15])
    (after,) = with_other_bias([before], 0, bias, spared)
    assert after.probs.sum() == pytest.approx(1.0)
    assert after.probs[[1, 4]] == pytest.approx(before.probs[[1, 4]])
    odds_before = before.probs[0] / before.probs[[2, 3]].sum()
    assert after.probs[0] / after.probs[[2, 3]].sum() == pytest.approx(odds_before * np.exp(bias))
    assert after.probs[2] / after.probs[3] == pytest.approx(before.probs[2] / before.probs[3])


def test_the_plain_bias_takes_from_every_condition_emergencies_included() -> None:
    before = _row([0.1, 0.2, 0.3, 0.25, 0.15])
    (after,) = with_other_bias([before], 0, 0.5)
    assert after.probs.sum() == pytest.approx(1.0)
    assert after.probs[0] > before.probs[0]
    assert after.probs[1] < before.probs[1] and after.probs[4] < before.probs[4]
