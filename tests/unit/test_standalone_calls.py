"""StandaloneAirflow.call against a local HTTP server that answers as a busy standalone Airflow does: the
POST that starts a run (or creates a connection or a pool) meets the SQLite database locked (500), after having
created it or not. The repeat must not create a second one; a POST that names nothing it creates is not repeated."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError
from urllib.parse import quote

import pytest

from kafka_medic.airflow.standalone import StandaloneAirflow, created_name


class LockedOnce(BaseHTTPRequestHandler):
    """The first POST of each path fails with a 500 (after creating what it names when `created_first`)."""

    created: dict[str, dict] = {}  # by path and name
    posts: list[str] = []
    created_first = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        first = self.path not in self.posts
        self.posts.append(self.path)
        name = created_name(body)
        key = f"{self.path}/{quote(name, safe='')}" if name else None
        if key in self.created:
            return self._answer(409, {"detail": f"{name} exists"})
        if key and (self.created_first or not first):
            self.created[key] = body
        if first:
            return self._answer(500, {"detail": "database is locked"})
        return self._answer(200, self.created[key])

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, self.created[self.path])

    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def airflow(tmp_path):
    LockedOnce.created, LockedOnce.posts = {}, []
    server = ThreadingHTTPServer(("localhost", 0), LockedOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield StandaloneAirflow(tmp_path, server.server_address[1], [], {})
    server.shutdown()


@pytest.mark.parametrize("created_first", [True, False])
def test_a_run_start_that_met_the_database_locked_is_repeated_and_starts_one_run(airflow, created_first):
    LockedOnce.created_first = created_first
    run = airflow.call("POST", "/dags/d/dagRuns", {"logical_date": None, "conf": {"x": 1}})
    assert [b["dag_run_id"] for b in LockedOnce.created.values()] == [run["dag_run_id"]] and run["conf"] == {"x": 1}
    assert run["dag_run_id"].startswith("manual__") and len(LockedOnce.posts) == 2


@pytest.mark.parametrize("created_first", [True, False])
@pytest.mark.parametrize(("path", "body"), [("/connections", {"connection_id": "c", "conn_type": "kafka"}),
                                            ("/pools", {"name": "p", "slots": 1})])
def test_a_connection_or_pool_that_met_the_database_locked_is_created_once(airflow, created_first, path, body):
    LockedOnce.created_first = created_first
    assert airflow.call("POST", path, body) == body
    assert list(LockedOnce.created) == [f"/api/v2{path}/{body.get('connection_id') or body['name']}"]
    assert len(LockedOnce.posts) == 2


def test_a_post_naming_nothing_it_creates_is_not_repeated(airflow):
    with pytest.raises(HTTPError, match="500"):
        airflow.call("POST", "/dags/d/clearTaskInstances", {"dry_run": False})
    assert LockedOnce.posts == ["/api/v2/dags/d/clearTaskInstances"]
