"""`kafka-medic demo`: the newcomer's first run, from a broken broker to a healed cluster in the Airflow UI.

Starts the local 4-broker dev cluster, creates topics with a deliberately skewed placement, runs a skewed
produce/consume workload and prints the cluster state. Then starts Airflow (standalone, SQLite) with
kafka-medic's DAGs and a ready connection to the dev cluster, kills a broker, and follows detect ->
heal -> approval (given by you in the Airflow UI) -> healed.
"""

from __future__ import annotations

import argparse
import signal
import time

from kafka_medic.airflow import ids
from kafka_medic.cli.state import run_state
from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.ports import DEFAULT_BASE_PORT
from kafka_medic.devcluster.workload import create_skewed_topics, run_workload
from kafka_medic.errors import MedicError
from kafka_medic.storage import medic_home

HEAL_DAG = "kafka_medic__dev__heal"
VICTIM = 4


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="dev cluster, workload, Airflow; kill a broker and heal it")
    demo.add_argument("--workload-seconds", type=float, default=30.0, help="how long to produce (default 30)")
    demo.add_argument("--rate", type=float, default=500.0, help="total produce rate in KB/s (default 500)")
    demo.add_argument("--port", type=int, default=8080, help="Airflow UI port (default 8080)")
    demo.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                      help=f"the dev cluster's base port (default {DEFAULT_BASE_PORT}; 0 picks free ports)")
    demo.add_argument("--grace", type=int, default=60, help="seconds a broker must stay dead before healing (60)")
    demo.add_argument("--no-airflow", action="store_true", help="stop after showing the cluster state")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    cluster = DevCluster(name="dev", base_port=args.base_port)
    cluster.up()
    print(f"dev cluster up: bootstrap {cluster.bootstrap}")
    created = create_skewed_topics(cluster.bootstrap, cluster.broker_ids)
    if created:
        print(f"created skewed topics: {', '.join(created)}")
    print(f"running a skewed workload at {args.rate:.0f} KB/s for {args.workload_seconds:.0f}s ...")
    report = run_workload(cluster.bootstrap, args.workload_seconds, rate_kbps=args.rate)
    print(f"produced {sum(report.produced.values())} messages ({report.bytes_produced / 2**20:.1f} MB), "
          f"consumed {sum(report.consumed.values())}; per topic: {report.produced}\n")
    code = run_state(argparse.Namespace(bootstrap=None, zookeeper=None, cluster="dev", json=False))
    if args.no_airflow:
        return code
    return heal_in_airflow(cluster, args.port, args.grace)


def heal_in_airflow(cluster: DevCluster, port: int, grace_s: int) -> int:
    from kafka_medic.airflow.standalone import StandaloneAirflow

    if not any(b["alive"] for b in cluster.status()["brokers"] if b["id"] == VICTIM):
        cluster.start_broker(VICTIM)
    connection = {"conn_type": "kafka", "extra": {
        "bootstrap.servers": cluster.bootstrap,
        "kafka_medic": {"jmx_urls": {str(b): cluster.jmx_url(b) for b in cluster.broker_ids},
                        "remediation": {"broker_failure": {"act_after_s": grace_s}}}}}
    airflow = StandaloneAirflow(medic_home() / "airflow-demo", port,
                                [{"name": "dev", "conn_id": "kafka_medic_dev", "rebalance_cron": None}],
                                {"kafka_medic_dev": connection})
    print(f"\nstarting Airflow (standalone, SQLite) at {airflow.url}; log: {airflow.log_path} ...")
    # Ctrl-C and SIGTERM alike stop Airflow (in its own session, it hears neither) before the demo exits
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        airflow.start()
        print(f"Airflow is up: {airflow.url} (no login: local demo only)")
        known = {r["dag_run_id"] for r in airflow.runs(HEAL_DAG)}
        cluster.kill_broker(VICTIM)
        print(f"\nkilled broker {VICTIM}. Watch it in the Airflow UI at {airflow.url}:\n"
              f"  - DAG kafka_medic__dev__detect finds the dead broker (runs every minute)\n"
              f"  - DAG {HEAL_DAG} starts from its asset event; wait_for_grace waits {grace_s}s\n"
              f"  - then the 'approve' task asks you: open the run, 'Required Actions', read the plan, click Approve")
        run_id = _wait(lambda: next((r["dag_run_id"] for r in airflow.runs(HEAL_DAG)
                                     if r["dag_run_id"] not in known), None), "a heal run")
        print(f"heal run {run_id} started")
        run_id, state, tasks = follow_heal(airflow, run_id)
        print(f"heal run {run_id} {state}: {tasks}\n")
        run_state(argparse.Namespace(bootstrap=None, zookeeper=None, cluster="dev", json=False))
        print(f"\nAirflow stays up at {airflow.url} until Ctrl-C; then `make down` stops the cluster.")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        airflow.stop()


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def _finished(airflow, run_id: str) -> str | None:
    state = airflow.call("GET", f"/dags/{HEAL_DAG}/dagRuns/{run_id}")["state"]
    return state if state in ("success", "failed") else None


def follow_heal(airflow, run_id: str) -> tuple[str, str, dict[str, str]]:
    """Ask for the approval of `run_id` and wait for its end: (run, state, its task states).

    A plan that no longer fitted the cluster when approved moves nothing: its run skips every write,
    ends in success and starts a new run that plans again and asks again. That success is not the heal's,
    so the new run is followed (the policy's max_replans bounds the chain: then a run fails).
    """
    while True:
        _wait(lambda r=run_id: airflow.awaiting_input(HEAL_DAG, r, ids.APPROVE) or _finished(airflow, r),
              "the approval request")
        print(f"\nAPPROVE NOW: {airflow.url}/dags/{HEAL_DAG}/runs/{run_id}/tasks/{ids.APPROVE}/required_actions")
        state = _wait(lambda r=run_id: _finished(airflow, r), "the heal run to finish", timeout_s=3600)
        tasks = airflow.task_states(HEAL_DAG, run_id)
        if tasks.get(ids.REPLAN) != "success":
            return run_id, state, tasks
        stale_run, run_id = run_id, _wait(lambda r=run_id: _replanned(airflow, r), "the re-planned heal run")
        print(f"heal run {stale_run}: the plan no longer fitted the cluster when approved (see its "
              f"{ids.CHECK_PLAN} log), so nothing moved; run {run_id} plans again")


def _replanned(airflow, run_id: str) -> str | None:
    """The run that `run_id`'s replan task started, once it exists."""
    return next((r["dag_run_id"] for r in airflow.runs(HEAL_DAG)
                 if (r.get("conf") or {}).get(ids.REPLAN_OF) == run_id), None)


def _wait(condition, what: str, timeout_s: float = 900):
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise MedicError(f"no {what} after {timeout_s:.0f}s: see the Airflow UI and its log")
        time.sleep(3)
    return value
