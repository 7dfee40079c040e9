"""The DAG tests' clusters: two managed clusters, one connection carrying a canary password.

The canary lets the integrity test prove that no secret from a connection ends up in a DAG.
"""

from __future__ import annotations

import json

import pytest

from . import airflow_env

CANARY = "canary-secret-4f1c"
CLUSTERS = [
    {"name": "alpha", "conn_id": "kafka_medic_alpha"},
    {"name": "beta", "conn_id": "kafka_medic_beta", "rebalance_cron": None},
]


@pytest.fixture(scope="module", autouse=True)
def two_clusters():
    patch = pytest.MonkeyPatch()
    path = airflow_env.HOME / "clusters.json"
    path.write_text(json.dumps({"clusters": CLUSTERS}))
    patch.setenv("KAFKA_MEDIC_CLUSTERS", str(path))
    patch.setenv("AIRFLOW_CONN_KAFKA_MEDIC_ALPHA", json.dumps({
        "conn_type": "kafka",
        "extra": {"bootstrap.servers": "localhost:9092", "security.protocol": "SASL_PLAINTEXT",
                  "sasl.mechanism": "PLAIN", "sasl.username": "medic", "sasl.password": CANARY},
    }))
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    """Each test's kafka-medic store (anomaly log, intents, journal) is its own file, never the user's default."""
    from kafka_medic.storage import STORE_URL_ENV

    monkeypatch.setenv(STORE_URL_ENV, f"sqlite:///{tmp_path / 'store.db'}")
