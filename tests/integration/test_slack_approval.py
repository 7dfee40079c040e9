"""A Slack click approves a real Airflow approval gate, over real HTTP, end to end.

A real Airflow metadata database (SQLite, migrated by `airflow db migrate`), a DAG whose
ApprovalOperator parks in AWAITING_INPUT under `dag.test()`, the plugin's app served by uvicorn, and a
local Slack-compatible server: forged, stale and unlisted clicks are refused and answer nothing; a
signed click by an approver lets the DAG run on and turns the Slack buttons into "Approved by".
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kafka_medic.notify.approval import ApprovalRef

from ..unit.test_notify_interactivity import SECRET, click_body, headers
from ..unit.test_slack import TOKEN, FakeSlack
from .kafka_helpers import wait_for

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
DAG_ID = "kafka_medic_approval_itest"
DAG = f'''
import os
from pathlib import Path

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, task

with DAG("{DAG_ID}", schedule=None, catchup=False) as dag:
    @task
    def after_approval():
        Path(os.environ["MARKER"]).write_text("approved")

    ApprovalOperator(task_id="approve", subject="Heal dev?") >> after_approval()

if __name__ == "__main__":
    dag.test()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Environment of a throwaway Airflow with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, timeout=900,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return home, env


def hitl_row(home: Path):
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(
            "SELECT ti.run_id, ti.state, h.responded_at, h.responded_by, h.chosen_options FROM task_instance ti "
            "JOIN hitl_detail h ON h.ti_id = ti.id WHERE ti.dag_id = ? AND ti.task_id = 'approve'", (DAG_ID,)
        ).fetchone()


def post(url: str, body: bytes, hdrs: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={**hdrs, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_slack_click_approves_the_waiting_task(airflow, tmp_path):
    home, env = airflow
    dag_file = home / "dags" / "approval.py"
    dag_file.write_text(DAG)
    marker = tmp_path / "marker"
    with FakeSlack() as slack:
        connection = {"conn_type": "slack", "password": TOKEN, "extra": {
            "signing_secret": SECRET, "approvers": {"U123": "alice"}, "base_url": slack.base_url}}
        port = free_port()
        server_env = {**env, "AIRFLOW_CONN_KAFKA_MEDIC_SLACK": json.dumps(connection),
                      "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), env.get("PYTHONPATH", "")])}
        logs = tmp_path / "uvicorn.log", tmp_path / "dag_test.log"
        with open(logs[0], "wb") as server_log, open(logs[1], "wb") as dag_log:
            server = subprocess.Popen([sys.executable, "-m", "uvicorn", "kafka_medic_plugin:app", "--host",
                                       "127.0.0.1", "--port", str(port)], env=server_env, stdout=server_log,
                                      stderr=subprocess.STDOUT)
            run = subprocess.Popen([sys.executable, str(dag_file)], env={**env, "MARKER": str(marker)},
                                   stdout=dag_log, stderr=subprocess.STDOUT)
            try:
                _approve_through_slack(home, slack, f"http://127.0.0.1:{port}/slack/interactivity", run, marker)
            except BaseException:
                print(logs[0].read_text(errors="replace")[-4000:], logs[1].read_text(errors="replace")[-4000:])
                raise
            finally:
                for process in (run, server):
                    process.terminate()
                    process.wait(30)


def _approve_through_slack(home, slack, url, run, marker) -> None:
    row = wait_for(lambda: (r := hitl_row(home)) and r[1] == "awaiting_input" and r, 300, "the approval to wait")
    ref = ApprovalRef(DAG_ID, row[0], "approve")
    wait_for(lambda: _listening(url), 300, "the plugin server")

    now = int(time.time())
    body = click_body(value=ref.to_value())
    assert post(url, body, headers(body, now, secret="forged")) == (401, {"ok": False, "error": "bad signature"})
    assert post(url, body, headers(body, now - 3600)) == (401, {"ok": False, "error": "stale timestamp"})
    stranger = click_body(user="U999", value=ref.to_value())
    assert post(url, stranger, headers(stranger, now)) == (403, {"ok": False, "error": "user U999 not allowed"})
    assert hitl_row(home)[1:3] == ("awaiting_input", None) and slack.calls == []

    assert post(url, body, headers(body, int(time.time()))) == (200, {"ok": True, "decision": "approve",
                                                                      "user": "U123"})
    _, _, responded_at, responded_by, chosen = hitl_row(home)
    assert responded_at is not None and json.loads(chosen) == ["Approve"]
    assert json.loads(responded_by) == {"id": "alice", "name": "alice (Slack)"}
    assert run.wait(300) == 0 and marker.read_text() == "approved"

    (method, update), = slack.calls
    assert method == "chat.update" and (update["channel"], update["ts"]) == ("C42", "1700000000.000100")
    assert update["blocks"][-1]["elements"][0]["text"] == ":white_check_mark: Approved by <@U123>"
    # a second click finds the approval answered: refused, Slack untouched
    status, answer = post(url, body, headers(body, int(time.time())))
    assert status == 409 and "already been updated" in answer["error"] and len(slack.calls) == 1


def _listening(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError:
        return True  # 405 for GET: the app is up
    except OSError:
        return False
    return True
