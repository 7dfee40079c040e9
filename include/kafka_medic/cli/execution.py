"""`kafka-medic execute`, `kafka-medic executions`, `kafka-medic execution set` and `kafka-medic stop`."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import UTC, datetime

from kafka_medic.cli.output import add_json_flag, print_json, print_table
from kafka_medic.cli.target import add_cluster_args, resolve_cluster
from kafka_medic.cli.values import integer, positive_number
from kafka_medic.errors import MedicError
from kafka_medic.executor.batches import plan_batches
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import STRATEGIES, ZK_SUBMISSIONS, ExecutionOptions
from kafka_medic.executor.report import report_lines
from kafka_medic.executor.run import change_options, execute, stop
from kafka_medic.executor.tasks import REPLICA, refuse_invalid, tasks_for
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.limits import MAX_NUMBER
from kafka_medic.model import load_proposal
from kafka_medic.tables import printable
from kafka_medic.units import MB


def register(subparsers) -> None:
    run = subparsers.add_parser("execute", help="carry out a proposal: throttled, in batches, with progress")
    add_cluster_args(run)
    run.add_argument("--proposal", required=True, help="proposal file (kafka-medic plan --output)")
    run.add_argument("--dry-run", action="store_true", help="show the batches and stop there")
    run.add_argument("--throttle", metavar="MB/s|auto", type=_throttle_option,
                     help="replication throttle per broker in MB/s, or 'auto' for measured headroom")
    run.add_argument("--capacity", help="capacity file for --throttle auto")
    run.add_argument("--throttle-interval", type=positive_number(), default=60.0, metavar="SECONDS",
                     help="--throttle auto: recompute the rates from the latest samples this often (default 60)")
    defaults = ExecutionOptions()
    run.add_argument("--concurrency", type=integer(),
                     help="fixed concurrent replica moves per broker (default: from bytes in flight, see "
                          "--batch-target)")
    run.add_argument("--batch-target", type=positive_number(), default=defaults.batch_target_s, metavar="SECONDS",
                     help="each destination broker takes moves up to this many seconds of copying at its "
                          f"throttle (default {defaults.batch_target_s:.0f})")
    run.add_argument("--max-moves-per-broker", type=integer(), default=defaults.max_moves_per_broker,
                     help=f"concurrent replica moves per broker (default {defaults.max_moves_per_broker})")
    run.add_argument("--max-moves", type=integer(), default=defaults.max_moves,
                     help=f"concurrent replica moves in the cluster (default {defaults.max_moves})")
    run.add_argument("--strategy", default="min_isr_first,large_first",
                     help=f"comma-separated ordering of moves, from: {', '.join(STRATEGIES)}")
    run.add_argument("--poll", type=positive_number(), default=1.0, help="seconds between progress checks (default 1)")
    run.add_argument("--stall-alert", type=positive_number(), default=60.0, metavar="SECONDS",
                     help="alert when a move's gap to its leader has not closed for this long (default 60)")
    run.add_argument("--task-timeout", type=positive_number(), metavar="SECONDS",
                     help="stop the execution (rolling back) when a move runs longer (default: 3x its size at "
                          "the throttle, at least 10 minutes)")
    run.add_argument("--zk-submission", choices=ZK_SUBMISSIONS, default="auto",
                     help="ZooKeeper mode: 'auto' uses AlterPartitionReassignments where the brokers have it "
                          "(Kafka 2.4+), 'znode' always /admin/reassign_partitions (default auto)")
    add_json_flag(run)
    run.set_defaults(func=run_execute)

    listing = subparsers.add_parser("executions", help="recent executions and their outcome")
    listing.add_argument("--cluster", help="only this cluster")
    listing.add_argument("--limit", type=integer(), default=20)
    add_json_flag(listing)
    listing.set_defaults(func=run_executions)

    execution = subparsers.add_parser("execution", help="change the running execution")
    actions = execution.add_subparsers(dest="action", required=True, metavar="ACTION")
    change = actions.add_parser("set", help="change the running execution's throttle or concurrency; its "
                                            "executor applies them at its next poll")
    change.add_argument("--cluster", default="dev", help="cluster name (default: dev)")
    change.add_argument("--execution", metavar="ID", help="this execution (default: the cluster's running one)")
    change.add_argument("--throttle", metavar="MB/s", type=positive_number(MAX_NUMBER / MB),
                        help="new fixed replication throttle per broker in MB/s (replaces auto)")
    change.add_argument("--concurrency", type=integer(), help="new fixed concurrent replica moves per broker")
    add_json_flag(change)
    change.set_defaults(func=run_execution_set)

    halt = subparsers.add_parser("stop", help="stop the running execution: roll back moves in flight, clear throttles")
    add_cluster_args(halt)
    add_json_flag(halt)
    halt.set_defaults(func=run_stop)


def run_execute(args: argparse.Namespace) -> int:
    proposal = load_proposal(args.proposal)  # a bad file is refused before any cluster is looked up
    if proposal.cluster != args.cluster:  # and so is a proposal for another cluster
        raise MedicError(f"{args.proposal} was planned for cluster {proposal.cluster!r}, not {args.cluster!r}: "
                         f"give --cluster {proposal.cluster} (with its --bootstrap) to execute it there")
    config, _ = resolve_cluster(args)
    options = ExecutionOptions(
        concurrency=args.concurrency, max_moves=args.max_moves, max_moves_per_broker=args.max_moves_per_broker,
        batch_target_s=args.batch_target, strategy=tuple(args.strategy.split(",")),
        throttle=_throttle(args.throttle), auto_throttle=args.throttle == "auto", capacity_file=args.capacity,
        auto_throttle_interval_s=args.throttle_interval,
        poll_interval_s=args.poll, stall_alert_s=args.stall_alert, task_timeout_s=args.task_timeout,
        zk_submission=args.zk_submission,
    )
    if args.dry_run:
        return _dry_run(config, proposal, options, args.json)
    signal.signal(signal.SIGTERM, _interrupt)  # Airflow and service managers stop with SIGTERM: stop cleanly
    report = execute(config, proposal, options, Journal(), log=_log)
    if args.json:
        print_json(report)
    return 0 if report.get("status") == "succeeded" else 1


def run_executions(args: argparse.Namespace) -> int:
    journal = Journal()
    rows = journal.list(args.cluster, args.limit)
    if args.json:
        print_json([{"id": e.id, "cluster": e.cluster, "status": e.status, "phase": e.phase, "message": e.message,
                     "moves": len(e.proposal.moves), "started_at": e.started_at, "finished_at": e.finished_at,
                     "owner": f"{e.owner_host}:{e.owner_pid}" if e.owner_pid else None, "report": e.report}
                    for e in rows])
        return 0
    print_table(
        [(e.id, e.cluster, e.status, e.phase, len(e.proposal.moves), _time(e.started_at),
          round((e.finished_at or datetime.now(UTC).timestamp()) - e.started_at), e.message)
         for e in rows],
        ["id", "cluster", "status", "phase", "moves", "started", "seconds", "message"],
    )
    return 0


def run_execution_set(args: argparse.Namespace) -> int:
    throttle = None if args.throttle is None else args.throttle * MB
    options = change_options(args.cluster, throttle, args.concurrency, args.execution, Journal(),
                             log=(lambda line: None) if args.json else _log)  # --json: the options alone
    if args.json:
        print_json(options.as_dict())
    return 0


def run_stop(args: argparse.Namespace) -> int:
    config, _ = resolve_cluster(args)
    report = stop(config, Journal(), log=_log)
    if args.json:
        print_json(report)
    else:
        for line in report_lines(report):
            print(printable(line))
    return 0


def _dry_run(config, proposal, options: ExecutionOptions, as_json: bool) -> int:
    state = read_cluster_state(config)
    tasks, skipped = tasks_for(proposal.moves, state)
    refuse_invalid(skipped)
    batches, held = plan_batches(tasks, state, options)
    if as_json:
        print_json({
            "batches": [{"kind": b.kind, "partitions": [t.as_dict() for t in b.tasks]} for b in batches],
            "skipped": {s.task.name: s.reason for s in skipped}, "held": held,
        })
        return 0
    print_table(
        [(i + 1, b.kind, len(b.tasks), round(sum(t.bytes_to_move for t in b.tasks if b.kind == REPLICA) / MB, 1),
          ", ".join(t.name for t in b.tasks[:6]) + (" ..." if len(b.tasks) > 6 else ""))
         for i, b in enumerate(batches)],
        ["batch", "kind", "moves", "mb", "partitions"],
    )
    replica = [t for t in tasks if t.kind == REPLICA]
    print(f"\n{len(replica)} replica moves ({sum(t.bytes_to_move for t in replica) / MB:.1f} MB), "
          f"{len(batches)} batches; skipped {len(skipped)}; held back as unsafe {len(held)}")
    for s in skipped:
        print(printable(f"skip {s.task.name}: {s.reason}"))
    for name, reason in held.items():
        print(printable(f"hold {name}: {reason}"))
    return 0


def _throttle_option(text: str) -> str:
    """'auto' or a positive number of MB/s, checked when the options are parsed (before any file is read)."""
    if text != "auto":
        positive_number(MAX_NUMBER / MB)(text)
    return text


def _throttle(value: str | None) -> float | None:
    return None if value is None or value == "auto" else float(value) * MB


def _log(line: str) -> None:
    """The executor's progress lines, which name topics."""
    print(f"{datetime.now():%H:%M:%S} {printable(line)}", flush=True)


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _interrupt(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("kafka-medic: SIGTERM: stopping the execution", file=sys.stderr, flush=True)
    raise KeyboardInterrupt
