"""kafka-medic's Airflow DAGs for the clusters of clusters.json (or $KAFKA_MEDIC_CLUSTERS) in this file's shard.

The clusters are spread over kafka_medic_dags_0.py .. _7.py by a stable hash of their names
(kafka_medic.airflow.dag_files), so no one file nears the dag-processor's timeouts; the wiring lives in
kafka_medic.airflow.factory, and how to reach each cluster in its Airflow `kafka` connection.
"""

from kafka_medic.airflow.dag_files import shard_dags

globals().update(shard_dags(__file__))
