"""kafka-medic: heal and balance Apache Kafka clusters from Airflow DAGs."""
