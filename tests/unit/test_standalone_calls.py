"""StandaloneAirflow.call against a local HTTP server that answers as a busy standalone Airflow does: the
POST that starts a run meets the SQLite database locked (500), after having created the run or not. The
repeat must not start a second run; any other POST is not repeated."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError

import pytest

from kafka_medic.airflow.standalone import StandaloneAirflow


class LockedOnce(BaseHTTPRequestHandler):
    """The first POST of each path fails with a 500 (after creating the run when `created_first`)."""

    runs: dict[str, dict] = {}
    posts: list[str] = []
    created_first = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        first = self.path not in self.posts
        self.posts.append(self.path)
        run_id = body.get("dag_run_id")
        if run_id in self.runs:
            return self._answer(409, {"detail": f"run {run_id} exists"})
        if run_id and (self.created_first or not first):
            self.runs[run_id] = {"dag_run_id": run_id, "conf": body.get("conf")}
        if first:
            return self._answer(500, {"detail": "database is locked"})
        return self._answer(200, self.runs[run_id])

    def do_GET(self) -> None:  # noqa: N802
        run_id = self.path.rsplit("/", 1)[1].replace("%3A", ":").replace("%2B", "+")
        self._answer(200, self.runs[run_id])

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
    LockedOnce.runs, LockedOnce.posts = {}, []
    server = ThreadingHTTPServer(("localhost", 0), LockedOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield StandaloneAirflow(tmp_path, server.server_address[1], [], {})
    server.shutdown()


@pytest.mark.parametrize("created_first", [True, False])
def test_a_run_start_that_met_the_database_locked_is_repeated_and_starts_one_run(airflow, created_first):
    LockedOnce.created_first = created_first
    run = airflow.call("POST", "/dags/d/dagRuns", {"logical_date": None, "conf": {"x": 1}})
    assert list(LockedOnce.runs) == [run["dag_run_id"]] and run["conf"] == {"x": 1}
    assert run["dag_run_id"].startswith("manual__") and len(LockedOnce.posts) == 2


def test_another_post_is_not_repeated(airflow):
    with pytest.raises(HTTPError, match="500"):
        airflow.call("POST", "/pools", {"name": "p", "slots": 1})
    assert LockedOnce.posts == ["/api/v2/pools"]
