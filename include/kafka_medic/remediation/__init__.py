"""The remediations kafka-medic runs: the registry of their kinds, and the request one run works on.

Airflow-free, so the DAGs, the CLI, a REST API or a web console all read the same kinds and requests.
"""
