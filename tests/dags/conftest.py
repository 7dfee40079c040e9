"""Airflow for the DAG tests: its own home and SQLite database per session, two managed clusters.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it; a connection carrying a canary password lets tests prove no secret ends up in a DAG.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="kafka-medic-airflow-"))
CANARY = "canary-secret-4f1c"
CLUSTERS = [
    {"name": "alpha", "conn_id": "kafka_medic_alpha"},
    {"name": "beta", "conn_id": "kafka_medic_beta", "rebalance_cron": None},
]

(HOME / "clusters.json").write_text(json.dumps({"clusters": CLUSTERS}))
os.environ.update({
    "AIRFLOW_HOME": str(HOME / "airflow"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    "KAFKA_MEDIC_CLUSTERS": str(HOME / "clusters.json"),
    "KAFKA_MEDIC_HOME": str(HOME / "medic"),
    "AIRFLOW_CONN_KAFKA_MEDIC_ALPHA": json.dumps({
        "conn_type": "kafka",
        "extra": {"bootstrap.servers": "localhost:9092", "security.protocol": "SASL_PLAINTEXT",
                  "sasl.mechanism": "PLAIN", "sasl.username": "medic", "sasl.password": CANARY},
    }),
})
