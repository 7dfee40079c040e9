"""The Cruise Control API asks Airflow's auth manager, with the REST API's bearer token, before anything else.

The same live api-server as the metrics endpoint's test (Airflow's simple auth manager, not the demo's
all-admins mode), with one managed cluster. `cccli` cannot send an Authorization header (it has no option
for one and `requests` would only add a netrc's Basic auth), so this side is tested with plain HTTP:
no token is a 401, a viewer may read (the schema) but not trigger a run (403), and the schema is served.
No Kafka is needed: every refusal comes before the cluster is read.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from kafka_medic.airflow.clusters import CLUSTERS_ENV

from .test_metrics_endpoint import api_server, login  # noqa: F401  (the fixture, and its viewer's login)

CLUSTER = "prod"


@pytest.fixture(scope="module", autouse=True)
def clusters_file(tmp_path_factory):
    """The api-server's cluster list (autouse: set before the api_server fixture starts it)."""
    path = tmp_path_factory.mktemp("ccapi-auth") / "clusters.json"
    path.write_text(json.dumps({"clusters": [{"name": CLUSTER, "conn_id": "kafka_medic_prod"}]}))
    previous = os.environ.get(CLUSTERS_ENV)
    os.environ[CLUSTERS_ENV] = str(path)
    yield path
    if previous is None:
        os.environ.pop(CLUSTERS_ENV)
    else:
        os.environ[CLUSTERS_ENV] = previous


def request(url: str, method: str = "GET", token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers), timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_every_route_needs_a_token_and_the_right_to_act(api_server):  # noqa: F811
    base = f"{api_server}/kafka-medic/{CLUSTER}/kafkacruisecontrol"
    for method, endpoint in [("GET", "openapi.json"), ("GET", "state"), ("GET", "user_tasks"),
                             ("POST", "rebalance?dryrun=false"), ("POST", "review?approve=x"),
                             ("POST", "pause_sampling"), ("POST", "stop_proposal_execution")]:
        assert request(f"{base}/{endpoint}", method)[0] == 401, endpoint
    token = login(api_server)
    status, schema = request(f"{base}/openapi.json", token=token)
    assert status == 200 and schema["servers"] == [{"url": f"/kafka-medic/{CLUSTER}/kafkacruisecontrol"}]
    assert len(schema["paths"]) == 17
    for method, endpoint in [("POST", "rebalance?dryrun=false"), ("POST", "remove_broker?brokerid=1"),
                             ("POST", "review?approve=x"), ("POST", "pause_sampling"),
                             ("POST", "stop_proposal_execution"), ("POST", "admin?drop_recently_removed_brokers=1")]:
        status, body = request(f"{base}/{endpoint}", method, token)
        assert status == 403, (endpoint, status, body)
        assert body["errorMessage"] == "Forbidden"
    status, body = request(f"{api_server}/kafka-medic/nosuch/kafkacruisecontrol/state", token=token)
    assert status == 404 and "no managed cluster 'nosuch'" in body["errorMessage"]
