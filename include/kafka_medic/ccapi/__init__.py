"""Cruise Control's REST protocol (2.5) over kafka-medic: what its clients (`cccli`, operator tooling) send and expect.

`params` knows each endpoint's parameters and refuses unknown or bad ones with Cruise Control's error JSON,
`responses` builds its `json=true` shapes from kafka-medic's model, proposals, journal and stores, `tasks`
keeps its user tasks (202 with progress, then the result), `reads` computes what an endpoint answers
in-process (read the cluster, plan a dry run). The HTTP routes, which need Airflow (auth, triggering DAG
runs, answering approvals), are in `kafka_medic.airflow.ccapi`.
"""

# The Cruise Control release whose REST API this follows; `cccli` reads it from the Cruise-Control-Version header
# to know that a 200 is final (202 support arrived in 2.0.61).
CC_VERSION = "2.5.142"
# Every JSON body's "version" field, as Cruise Control's (its JSON schema version).
JSON_VERSION = 1
