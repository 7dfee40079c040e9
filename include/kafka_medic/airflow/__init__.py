"""The Airflow side of kafka-medic: the only package in the library that imports Airflow.

DAG files call the factory here; everything else in `kafka_medic` stays importable without Airflow.
"""
