"""The operator console's read models and pages: every cluster, its brokers, balance, anomalies, executions.

Plain data from the store (never Kafka) and HTML from that data; no Airflow here. The routes, with who may
see what and the Stop button, are `kafka_medic.airflow.console`, included in the plugin's app.
"""
