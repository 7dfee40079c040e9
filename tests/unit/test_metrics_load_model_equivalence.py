"""The load model on randomized sample sets equals the one the per-partition code (commit 0861fc8) built.

The expected models in data/load_model_expected.json were computed by that code from the same seeded
samples (`expected_models` below); the whole-frame code must give the same loads, leaders, replicas,
completeness, reasons and broker states. Regenerate only on purpose: `.venv/bin/python
tests/unit/test_metrics_load_model_equivalence.py` rewrites the file with the current code's models.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kafka_medic.metrics.load_model import LoadModel, build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore

EXPECTED = Path(__file__).parent / "data" / "load_model_expected.json"
T0 = 6000.0
CASES = {
    "seed1": (1, dict(window_s=60.0, windows=3, min_valid_ratio=0.8)),
    "seed2-min2": (2, dict(window_s=60.0, windows=3, min_valid_ratio=0.6, min_samples=2, follower_cpu_ratio=0.5)),
    "seed3-cooldown": (3, dict(window_s=30.0, windows=5, min_valid_ratio=0.9, cooldown_s=15.0)),
}


def fill_random(store: MetricsStore, seed: int, after_round: Callable[[float], object] = lambda ts: None) -> float:
    """Rounds every 10 s from T0 - 120 to T0 + 200 on 6 brokers, broker 6 dying at T0 - 30, with skipped
    rounds, leader changes, reassignments, missing rates and partitions missing from rounds; returns now.
    `after_round(ts)` runs after each round is stored, as the sampling round's aggregation does."""
    rng = random.Random(seed)
    partitions = []
    for t in range(4):
        for p in range(10):
            replicas = rng.sample(range(1, 7), rng.choice([1, 2, 3]))
            partitions.append((f"t{t}", p, replicas, rng.uniform(0, 5e4), rng.uniform(0, 9e4), rng.uniform(1, 500)))
    moving = {(t, p): rng.uniform(T0 - 60, T0 + 150) for t, p, *_ in rng.sample(partitions, 6)}
    ts = T0 - 120
    while ts < T0 + 200:
        alive = {b for b in range(1, 7) if not (b == 6 and ts >= T0 - 30) and rng.random() > 0.03}
        rows = []
        for topic, part, replicas, bin_, bout, msgs in partitions:
            if rng.random() < 0.05 and ts < T0 + 150:  # (the old code raised on one missing late)
                continue
            up = [b for b in replicas if b in alive]
            leader = up[0] if up and rng.random() > 0.1 else (rng.choice(up) if up else None)
            flag = (topic, part) in moving and 0 <= ts - moving[topic, part] < 30
            rated = rng.random() > 0.1
            for b in up:
                lead = b == leader
                rows.append(
                    PartitionSample(
                        ts=ts, topic=topic, partition=part, broker=b, source="admin", leader=lead,
                        reassigning=flag, size=rng.uniform(1e5, 1e8),
                        bytes_in=bin_ * rng.uniform(0.8, 1.2) if lead and rated else None,
                        bytes_out=bout * rng.uniform(0.8, 1.2) if lead and rated else None,
                        messages_in=msgs * rng.uniform(0.8, 1.2) if lead and rated else None,
                    )
                )  # fmt: skip
        store.add_partition_samples("c", rows)
        store.add_broker_samples(
            "c",
            [BrokerSample(ts=ts, broker=b, source="admin", alive=b in alive,
                          cpu=rng.uniform(5, 90) if b in alive and rng.random() > 0.05 else None)
             for b in range(1, 7)],
        )  # fmt: skip
        after_round(ts)
        ts += 10.0
    return T0 + 200


def as_json(model: LoadModel) -> dict:
    """The model with JSON keys: "topic/partition" for partitions, str(broker) for brokers."""
    def key(p):
        return f"{p[0]}/{p[1]}"

    return {
        "valid_windows": model.valid_windows,
        "valid_partition_ratio": model.valid_partition_ratio,
        "partition_load": {key(p): v for p, v in sorted(model.partition_load.items())},
        "leaders": {key(p): b for p, b in sorted(model.leaders.items())},
        "replicas": {key(p): rs for p, rs in sorted(model.replicas.items())},
        "brokers": {str(b): [s.state, s.last_sample, s.measured] for b, s in model.brokers.items()},
        "broker_load": {str(b): v for b, v in model.broker_load.items()},
        "incomplete": {key(p): why for p, why in sorted(model.incomplete.items())},
        "offline": sorted(key(p) for p in model.offline),
    }


def expected_models(tmp: Path) -> dict:
    models = {}
    for name, (seed, window) in CASES.items():
        with MetricsStore(f"sqlite:///{tmp / name}.db") as store:
            now = fill_random(store, seed)
            models[name] = as_json(build_load_model(store, "c", now=now, **window))
    return models


@pytest.mark.parametrize("name", CASES)
def test_same_model_as_the_per_partition_code(tmp_path, name):
    seed, window = CASES[name]
    with MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}") as store:
        now = fill_random(store, seed)
        got = as_json(build_load_model(store, "c", now=now, **window))
    assert got["incomplete"] and got["offline"]  # the sample set exercises both
    assert_same_model(got, json.loads(EXPECTED.read_text())[name])


def assert_same_model(got: dict, expected: dict) -> None:
    """as_json models equal: structure exactly, loads and broker measurements to 1e-9."""
    for part in ("valid_windows", "leaders", "replicas", "incomplete", "offline"):
        assert got[part] == expected[part], part
    assert got["valid_partition_ratio"] == pytest.approx(expected["valid_partition_ratio"])
    for part in ("partition_load", "broker_load"):
        assert got[part].keys() == expected[part].keys()
        for k, load in expected[part].items():
            assert got[part][k] == pytest.approx(load, rel=1e-9, abs=1e-12), (part, k)
    assert got["brokers"].keys() == expected["brokers"].keys()
    for b, (state, last, measured) in expected["brokers"].items():
        assert got["brokers"][b][:2] == [state, last]
        unmeasured = {m for m, v in measured.items() if v is None}
        assert {m for m, v in got["brokers"][b][2].items() if v is None} == unmeasured
        numbers = {m: v for m, v in measured.items() if v is not None}
        assert {m: got["brokers"][b][2][m] for m in numbers} == pytest.approx(numbers, rel=1e-9)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        EXPECTED.write_text(json.dumps(expected_models(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}", file=sys.stderr)
