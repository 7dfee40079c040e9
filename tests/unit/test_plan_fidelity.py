"""Plan fidelity's drift check: brokers, the planned partitions' replicas, load and age, each named when it drifts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kafka_medic.model import Move, Proposal
from kafka_medic.remediation.fidelity import PlanBasis, drift, plan_digest

PROPOSAL = Proposal("c", [], [Move("t", 0, [1, 2], [3, 2], 1, 3)])
BASIS = PlanBasis(alive=[1, 2, 3], dead=[], assignments={"t-0": [1, 2]}, load={"1": 50.0, "2": 30.0, "3": 20.0},
                  planned_at=1000.0)


def check(live: PlanBasis) -> str | None:
    return drift(BASIS, live, max_drift=0.1, max_age_s=3600)


def test_an_unchanged_cluster_and_small_load_changes_keep_the_plan():
    assert check(replace(BASIS, planned_at=1060.0)) is None
    assert check(replace(BASIS, load={"1": 55.0, "2": 30.0, "3": 20.0})) is None  # 5 of 100: within 10%


@pytest.mark.parametrize(("live", "reason"), [
    (replace(BASIS, alive=[1, 2], dead=[3]),
     "brokers changed since planning: alive [1, 2, 3] -> [1, 2], dead [] -> [3]"),
    (replace(BASIS, assignments={"t-0": [2, 1]}), "1 planned partition(s) were reassigned since planning, "
                                                  "e.g. t-0: [1, 2] -> [2, 1]"),
    (replace(BASIS, assignments={}), "e.g. t-0: [1, 2] -> gone"),
    (replace(BASIS, load={"1": 50.0, "2": 30.0, "3": 35.0}), "broker 3's load drifted by 15% of the cluster's"),
    (replace(BASIS, planned_at=1000.0 + 7200), "the plan is 120 min old, more than the policy's 60 min"),
])
def test_drift_names_what_changed(live, reason):
    assert reason in (check(live) or "")


def test_the_digest_is_stable_and_covers_moves_and_basis():
    digest = plan_digest(PROPOSAL, BASIS)
    assert digest == plan_digest(PROPOSAL, PlanBasis.from_dict(BASIS.as_dict())) and len(digest) == 64
    assert digest != plan_digest(PROPOSAL, replace(BASIS, dead=[4]))
    assert digest != plan_digest(Proposal("c", [], [Move("t", 0, [1, 2], [3, 1], 1, 3)]), BASIS)
