"""Airflow's environment for in-process DAG tests: a private home and SQLite database per session.

Airflow reads its configuration when first imported, so every test module that imports Airflow imports
this first. Everything else (which clusters, which connections) tests set per test with monkeypatch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DAGS = Path(__file__).resolve().parents[2] / "dags"
HOME = Path(tempfile.mkdtemp(prefix="airflow-", dir=os.environ.get("KAFKA_MEDIC_HOME")))
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",  # CI machines run many tests at once
    "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
})
