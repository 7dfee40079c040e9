"""The console's routes in the plugin's app behind Airflow's auth manager (FastAPI TestClient).

Tokens are real JWTs of Airflow's simple auth manager, checked by the REST API's own `get_user`; a viewer
may read a cluster's DAGs, a user may edit them. Stop against a live execution is in
tests/integration/test_console_browser.py.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kafka_medic.storage import STORE_URL_ENV

from ..dags import airflow_env  # noqa: F401  (Airflow's environment, before Airflow is imported)
from .test_console import fill

PLUGIN = Path(__file__).parents[2] / "plugins" / "kafka_medic_plugin.py"
ROUTES = [("GET", "/"), ("GET", "/_static/charts.js"), ("GET", "/a/"), ("GET", "/a/partitions"),
          ("GET", "/a/proposal/any"), ("POST", "/a/stop")]


@pytest.fixture(scope="module")
def app():
    spec = importlib.util.spec_from_file_location("kafka_medic_plugin_console", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@pytest.fixture(scope="module")
def tokens():
    """JWTs of a viewer and of a user, from the auth manager the api-server would check them with."""
    from airflow import settings
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.dag import DagModel
    from airflow.models.revoked_token import RevokedToken
    from airflow.models.xcom import XComModel

    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    DagModel.__table__.create(settings.engine, checkfirst=True)  # empty: no DAG parsed, the detect DAG decides
    XComModel.__table__.create(settings.engine, checkfirst=True)  # empty: no plan awaits approval
    manager = init_auth_manager()
    return {role: manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role)) for role in ("viewer", "user")}


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url, time.time())
    clusters = tmp_path / "clusters.json"
    clusters.write_text(json.dumps({"clusters": [{"name": "a", "conn_id": "kafka_medic_a"}]}))
    monkeypatch.setenv(STORE_URL_ENV, url)
    monkeypatch.setenv("KAFKA_MEDIC_CLUSTERS", str(clusters))
    return url


def store_execution(url: str) -> str:
    from kafka_medic.executor.journal import Journal

    with Journal(url) as journal:
        return journal.list("a")[0].id


def client(app, token: str | None) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(("credential", "status"), [(None, 401), ("not-a-jwt", 403)])
def test_every_console_route_refuses_a_request_without_a_valid_airflow_token(app, store, tokens, method, path,
                                                                           credential, status):
    response = client(app, credential).request(method, path)
    assert response.status_code == status
    assert "kafka-medic" not in response.text and "uPlot" not in response.text


def test_a_viewer_sees_every_page_but_no_stop_button(app, store, tokens):
    viewer = client(app, tokens["viewer"])
    front = viewer.get("/")
    assert front.status_code == 200 and 'href="/kafka-medic/a/"' in front.text
    page = viewer.get("/a/")
    assert page.status_code == 200 and 'id="history"' in page.text and 'id="running"' in page.text
    assert 'id="stop"' not in page.text
    partitions = viewer.get("/a/partitions", params={"resource": "cpu", "topic": "topic-.*", "page": 2})
    assert partitions.status_code == 200 and "page 2 of 8" in partitions.text
    assert "RE2 syntax" in viewer.get("/a/partitions", params={"topic": "("}).text  # the reason, on the page
    assert viewer.get("/a/partitions", params={"resource": "gpu"}).status_code == 400
    assert viewer.get("/_static/uPlot.iife.min.js").headers["content-type"].startswith("text/javascript")
    assert viewer.get("/_static/README.md").status_code == 404
    assert viewer.get("/nowhere/").status_code == 404
    execution = store_execution(store)
    proposal = viewer.get(f"/a/proposal/{execution}", params={"topic": "t"})
    assert proposal.status_code == 200 and "4 moves match" in proposal.text
    assert viewer.get("/a/proposal/a-nothing").status_code == 404


def test_a_viewer_cannot_stop_and_a_user_can_from_this_server_only(app, store, tokens):
    refused = client(app, tokens["viewer"]).post("/a/stop")
    assert refused.status_code == 403 and "Stop refused" in refused.text
    user = client(app, tokens["user"])
    assert 'id="stop"' in user.get("/a/").text
    forged = user.post("/a/stop", headers={"Origin": "https://elsewhere.example"})
    assert forged.status_code == 403 and "this server's own page" in forged.text


def test_a_plan_awaiting_approval_has_its_page_by_dag_run_id(app, store, tokens):
    """The approval's link names the DAG run: its plan is only the plan task's XCom until approved."""
    from airflow import settings
    from airflow.models.xcom import XComModel

    from kafka_medic.console.pages import proposal_url
    from kafka_medic.model import proposal_to_dict

    from .test_console import PROPOSAL

    run_id = f"manual__{time.time():.0f}T08:00:00+00:00"
    with settings.engine.begin() as conn:  # no dag_run or task_instance rows: the page reads the XCom alone
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # The Airflow database is shared by the whole test process: a negative id, which no earlier test's XCom
        # holds and no DAG run will ever take (a later run whose plan XCom met this row would fail to store it).
        unused = conn.exec_driver_sql("SELECT MIN(COALESCE(MIN(dag_run_id), 0), 0) - 1 FROM xcom").scalar()
        row = dict(dag_run_id=unused, dag_id="kafka_medic__a__rebalance", run_id=run_id, task_id="plan",
                   map_index=-1, key="return_value", value=XComModel.serialize_value(proposal_to_dict(PROPOSAL)))
        conn.execute(XComModel.__table__.insert().values(**row))
    try:
        url = proposal_url("a", run_id)
        assert "%2B" in url and url.startswith("/kafka-medic/a/proposal/")
        viewer = client(app, tokens["viewer"])
        page = viewer.get(url.removeprefix("/kafka-medic"), params={"topic": "t"})
        assert page.status_code == 200 and "4 moves match" in page.text
        assert '<span id="plan-status">awaiting approval</span>' in page.text
        assert page.text.count("<tr>") >= 4
        assert viewer.get(proposal_url("b", run_id).removeprefix("/kafka-medic")).status_code == 404  # not cluster a's
        assert viewer.get(proposal_url("a", run_id + "x").removeprefix("/kafka-medic")).status_code == 404
    finally:  # later tests of this process see no plan awaiting approval
        with settings.engine.begin() as conn:
            conn.execute(XComModel.__table__.delete().where(XComModel.__table__.c.dag_run_id == unused))
