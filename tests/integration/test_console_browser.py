"""The operator console in headless Chromium against a live Airflow (`airflow standalone`) and the session's
KRaft dev cluster, as an operator uses it.

The cluster's sample and detect DAGs run on their schedules and fill the store; the console reads only the
store. The front page lists the cluster; its page draws the balance-over-time charts from detect's status
rows (uPlot, with points, not an empty canvas) and the brokers from detect's model snapshot; a killed broker
shows dead within two detect cycles; the link in an approval waiting for a person (a decommission, which the
policy does not allow on its own) opens the proposal page of the run's plan before anything moves; a rebalance moving
a topic under a 1 MB/s throttle shows the throttle and a progress and ETA that change as it runs, and the Stop
button ends it through the executor's stop: the cancelled moves back on their old replicas, no throttle left;
the plan it carried out has its proposal page (per-broker before/after, the moves). With
$KAFKA_MEDIC_CONSOLE_SCREENSHOTS set to a directory, each page is saved there as a PNG (docs/console/ holds
the ones the README shows).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.detector.status import StatusLog
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .browser import browser_page
from .executor_helpers import placed_topic
from .kafka_helpers import only_spreading, wait_for
from .servers import started

CLUSTER, CONN_ID = "console", "kafka_medic_console"
DAG = f"kafka_medic__{CLUSTER}__rebalance"
QUIET = {kind: {"action": None} for kind in ("broker_failure", "under_replicated_partitions",
                                            "hard_goal_violation", "soft_goal_violation")}
POLICY = {"rebalance": {"approval": "auto", "max_data_gb": 1}}
DETECT_EVERY_S = 60
SHOTS = os.environ.get("KAFKA_MEDIC_CONSOLE_SCREENSHOTS")


@pytest.fixture(scope="module")
def airflow(kraft_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-console")
    extra = {"bootstrap.servers": kraft_cluster.bootstrap, "kafka_medic": {"policy": POLICY, "remediation": QUIET}}
    clusters = [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None,
                 "policy": {"rebalance_on_incomplete_load": True, "load_windows": 2, "window_minutes": 1}}]
    airflow = StandaloneAirflow(home, free_ports(1)[0], clusters, {CONN_ID: {"conn_type": "kafka", "extra": extra}})
    airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
    with started(airflow):
        yield airflow


def store(airflow: StandaloneAirflow) -> str:
    return f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}"


def status_rows(airflow: StandaloneAirflow) -> int:
    if not (airflow.home / "medic" / "metrics.db").exists():
        return 0
    with StatusLog(store(airflow)) as statuses:
        return len(statuses.series(CLUSTER, 0.0)["at"])


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_front_page_lists_the_cluster_and_its_page_charts_the_status_rows(airflow, kraft_cluster):
    placed_topic(kraft_cluster.bootstrap, "console-load", [[1, 2], [2, 3], [3, 4], [4, 1]], mb=4)
    wait_for(lambda: status_rows(airflow) >= 2, 600, "two detect runs' status rows", interval=5)
    with browser_page(f"{airflow.url}/kafka-medic/") as page:
        row = page.locator("table.clusters tbody tr", has_text=CLUSTER)
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text("4 / 0")  # brokers alive / dead
        shot(page, "clusters")
        row.get_by_role("link", name=CLUSTER).click()
        page.wait_for_load_state("networkidle")
        for chart in ("#chart-day", "#chart-week"):
            expect(page.locator(f"{chart} canvas")).to_have_count(1)
            assert int(page.locator(chart).get_attribute("data-points")) >= 2
        expect(page.locator("table.brokers tbody tr")).to_have_count(4)
        expect(page.locator("table.brokers .bar")).to_have_count(4 * 4)
        shot(page, "cluster")
        page.get_by_role("link", name="heaviest partitions").click()

        def listed() -> bool:  # the topic is in the snapshot of the first detect run after it was created
            page.reload(wait_until="networkidle")
            return page.locator("table.partitions tbody tr", has_text="console-load").count() == 4
        wait_for(listed, 3 * DETECT_EVERY_S, "the topic's 4 partitions on the partition page", interval=5)
        shot(page, "partitions")


def test_the_link_in_an_approval_opens_the_page_of_the_plan_waiting_for_it(airflow, kraft_cluster):
    dag = f"kafka_medic__{CLUSTER}__decommission"  # broker 4 emptied: the policy leaves that to a person
    run = airflow.call("POST", f"/dags/{dag}/dagRuns", {"logical_date": None, "conf": {"brokers": [4]}})
    run_id = run["dag_run_id"]
    wait_for(lambda: airflow.awaiting_input(dag, run_id, "approve"), 600, f"the approval of {run_id} to wait",
             interval=3)
    detail = airflow.call("GET", f"/dags/{dag}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails")
    (link,) = set(re.findall(r"\((http://[^)\s]+/kafka-medic/[^)\s]+)\)", detail["body"]))
    assert link.startswith(f"{airflow.url}/kafka-medic/{CLUSTER}/proposal/"), link
    with browser_page(link) as page:
        expect(page.locator("#plan-status")).to_have_text("awaiting approval")
        expect(page.locator("table.proposal-brokers tbody tr")).to_have_count(4)
        moves = page.locator("table.moves tbody tr")
        assert moves.count() >= 1 and "console-load" in page.locator("table.moves").inner_text()
        page.locator("input[name=topic]").fill("no-such-topic")
        page.get_by_role("button", name="filter").click()
        expect(page.locator("table.moves tbody tr")).to_have_count(0)
        shot(page, "proposal-awaiting")
    airflow.call("PATCH", f"/dags/{dag}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails",
                 {"chosen_options": ["Reject"], "params_input": {}})
    wait_for(lambda: airflow.call("GET", f"/dags/{dag}/dagRuns/{run_id}")["state"] in ("success", "failed"), 300,
             "the rejected run to end", interval=3)


def test_a_killed_broker_shows_dead_within_two_detect_cycles(airflow, kraft_cluster):
    killed_at = time.monotonic()
    kraft_cluster.kill_broker(4)
    try:
        with browser_page(f"{airflow.url}/kafka-medic/{CLUSTER}/") as page:
            def shows_dead() -> bool:
                page.reload(wait_until="networkidle")
                return page.locator("table.brokers tbody tr", has_text="dead").count() == 1
            wait_for(shows_dead, 3 * DETECT_EVERY_S, "the console to show broker 4 dead", interval=5)
            seen_s = time.monotonic() - killed_at
            assert page.locator("table.brokers tbody tr", has_text="dead").locator("td").first.inner_text() == "4"
            print(f"broker 4 shown dead {seen_s:.0f}s after the kill")
            assert seen_s <= 2 * DETECT_EVERY_S + 30  # two cycles, and the scheduler's start-up of a run
    finally:
        kraft_cluster.start_broker(4)


def test_a_running_execution_shows_progress_and_eta_and_stop_rolls_it_back(airflow, kraft_cluster):
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    wait_for(lambda: len(read_cluster_state(config).alive_brokers) == 4, 120, "broker 4 back")
    topic = f"console-{uuid.uuid4().hex[:6]}"
    # Every replica on brokers 1 and 2: the rebalance spreads them onto 3 and 4, 12 moves of 20 MB at 1 MB/s,
    # two at a time: the stop below is clicked 5-15 s into the first two, which must still be copying then
    # (moves of 5 MB had finished by the time the stop was acted on, and nothing was in flight to cancel).
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 8, mb=320)
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, **only_spreading(topic)}
    run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
    with browser_page(f"{airflow.url}/kafka-medic/{CLUSTER}/") as page:
        def eta_shown() -> bool:
            page.reload(wait_until="networkidle")
            eta = page.locator("#eta")
            return eta.count() == 1 and eta.inner_text() != "ETA -"
        wait_for(eta_shown, 600, "the running execution with an ETA", interval=3)
        progress = page.locator("#progress").inner_text()
        assert " MB / " in progress and "%" in progress
        assert re.search(r"throttle: broker \d+ \w+ 1(\.0)? MB/s", page.locator("#running").inner_text())
        first = (progress, page.locator("#eta").inner_text())

        def moved_on() -> bool:
            page.reload(wait_until="networkidle")
            return (page.locator("#progress").inner_text(), page.locator("#eta").inner_text()) != first
        wait_for(moved_on, 120, f"the progress or ETA to change from {first}", interval=5)
        expect(page.locator("table.per-broker tbody tr").first).to_be_visible()
        shot(page, "execution")
        page.set_default_timeout(240_000)
        in_flight = int(re.search(r"(\d+) in flight", page.locator("#running").inner_text()).group(1))
        page.locator("#stop").click()
        outcome = page.locator("#outcome")
        expect(outcome).to_contain_text("stopped", timeout=240_000)
        shot(page, "stopped")
        print(f"stop: {outcome.inner_text()}")
        journal = Journal(store(airflow))
        (execution,) = [e for e in journal.list(CLUSTER) if e.proposal.moves and e.proposal.moves[0].topic == topic]
        page.get_by_role("link", name=f"back to {CLUSTER}").click()
        page.locator("table.executions a").first.click()  # the plan the execution carried out
        expect(page.locator("table.proposal-brokers tbody tr")).to_have_count(4)
        expect(page.locator("table.moves tbody tr", has_text=topic)).to_have_count(len(execution.proposal.moves))
        shot(page, "proposal")

    assert execution.status == "stopped" and execution.stop_requested
    records = journal.tasks(execution.id)
    assert {j.CANCELLED, j.PENDING} & {r.state for r in records}, records  # rolled back, or never started
    state = read_cluster_state(config)
    replicas = {(p.topic, p.partition): p.replicas for p in state.partitions}
    cancelled = [r.task for r in records if r.state == j.CANCELLED]
    assert len(cancelled) >= min(in_flight, 1), records  # a move in flight at the click is cancelled
    assert [replicas[t.key] for t in cancelled] == [list(t.old_replicas) for t in cancelled]  # moves rolled back
    assert state.throttles() == {"brokers": {}, "topics": {}}
    assert not state.reassigning_partitions()
    wait_for(lambda: airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")["state"] in ("success", "failed"), 300,
             "the stopped run to end", interval=3)
    journal.close()
