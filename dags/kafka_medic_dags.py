"""kafka-medic's Airflow DAGs, generated for every cluster in clusters.json (or $KAFKA_MEDIC_CLUSTERS).

Thin on purpose: the wiring lives in kafka_medic.airflow.factory, the logic in the kafka_medic library,
and how to reach each cluster (and its secrets) in its Airflow `kafka` connection.
"""

from pathlib import Path

from kafka_medic.airflow.clusters import load_clusters
from kafka_medic.airflow.factory import build_dags

globals().update(build_dags(load_clusters(Path(__file__).with_name("clusters.json"))))
