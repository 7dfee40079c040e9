"""`kafka-medic plan` and `kafka-medic check`: the planner and the goal checks on a model file, or on a
snapshot of the live cluster (the dev cluster when no flag says otherwise)."""

from __future__ import annotations

import argparse
import sys

from kafka_medic.cli.output import add_json_flag, check_output_file, print_json, print_table
from kafka_medic.cli.state import add_snapshot_args
from kafka_medic.cli.values import SEED_MAX, integer, positive_number
from kafka_medic.errors import MedicError
from kafka_medic.goals import Thresholds, check, check_goal_names
from kafka_medic.goals.base import DEFAULT_CAPACITY_THRESHOLDS
from kafka_medic.limits import MAX_NUMBER
from kafka_medic.model import ClusterModel, load_model, proposal_to_dict, save_proposal
from kafka_medic.model.broker_sets import load_broker_sets
from kafka_medic.optimizer import PlanOptions, plan, render_summary


def register(subparsers) -> None:
    planner = subparsers.add_parser(
        "plan",
        help="plan partition and leadership moves that meet the goals",
        description="Plan the fewest, cheapest moves that meet every hard goal and as many soft goals "
        "as possible; print a summary and, with --output, write the proposal file. "
        "Exits 2 naming the goal and brokers when a hard goal cannot be met.",
    )
    _add_model_args(planner)
    planner.add_argument(
        "--exclude-topics", metavar="REGEX", help="topics never moved (except off dead brokers)"
    )
    planner.add_argument("--only-move-to", metavar="IDS", type=_ids, help="comma-separated broker ids")
    planner.add_argument("--decommission", metavar="IDS", type=_ids, default=[],
                         help="brokers to empty, e.g. before removing them (comma-separated ids)")
    planner.add_argument("--exclude-brokers", metavar="IDS", type=_ids, default=[],
                         help="brokers that receive no replica and no leadership (comma-separated ids)")
    planner.add_argument("--max-replica-moves", type=int, metavar="N")
    planner.add_argument("--heal-only", action="store_true",
                         help="move only replicas that must leave dead or decommissioned brokers and failed "
                         "disks (the least data); the soft goals choose where they go, leadership still moves")
    planner.add_argument("--seed", type=integer(0, SEED_MAX), default=0, help="tie-break seed (default 0)")
    planner.add_argument("--output", "-o", metavar="FILE", help="write the proposal JSON here")
    planner.add_argument("--show-moves", type=int, default=20, metavar="N", help="moves listed (default 20)")
    planner.add_argument(
        "--show-brokers",
        type=int,
        default=40,
        metavar="N",
        help="brokers listed, those changing most (default 40)",
    )
    add_json_flag(planner)
    planner.set_defaults(func=run_plan)

    checker = subparsers.add_parser(
        "check",
        help="which goals a model violates, and where",
        description="Check every goal against a model file. Exits 1 when a hard goal is violated.",
    )
    _add_model_args(checker)
    add_json_flag(checker)
    checker.set_defaults(func=run_check)


def run_plan(args: argparse.Namespace) -> int:
    if args.output:
        check_output_file(args.output)
    model = _model(args)
    _mark_brokers(model, args.decommission, args.exclude_brokers)
    options = PlanOptions(
        goals=args.goals,
        excluded_topics=args.exclude_topics,
        only_move_to=args.only_move_to,
        max_replica_moves=args.max_replica_moves,
        heal_only=args.heal_only,
        seed=args.seed,
        thresholds=_thresholds(args),
    )
    proposal = plan(model, options)
    if args.output:
        save_proposal(proposal, args.output)
    if args.json:
        print_json(proposal_to_dict(proposal))
        return 0
    print(render_summary(proposal, max_moves=args.show_moves, max_brokers=args.show_brokers))
    print(
        f"\nProposal written to {args.output}"
        if args.output
        else "\n(use --output FILE to save the proposal)"
    )
    return 0


def run_check(args: argparse.Namespace) -> int:
    results = check(_model(args), args.goals, _thresholds(args))
    if args.json:
        print_json([vars(r) for r in results])
    else:
        rows = [
            (r.goal, "hard" if r.hard else "soft", "ok" if r.satisfied else "VIOLATED", r.violation, r.detail)
            for r in results
        ]
        print_table(rows, ("goal", "kind", "status", "violation", "where"))
    return 1 if any(r.hard and not r.satisfied for r in results) else 0


def _model(args: argparse.Namespace) -> ClusterModel:
    if args.model:
        model = load_model(args.model)
    else:
        from kafka_medic.cli.state import live_model

        model, summary = live_model(args)
        print(f"snapshot of cluster {model.cluster!r}: {summary}", file=sys.stderr)
    if args.broker_sets:
        model.broker_sets = load_broker_sets(args.broker_sets, {b.id for b in model.brokers})
    return model


def _mark_brokers(model: ClusterModel, decommission: list[int], excluded: list[int]) -> None:
    """--decommission and --exclude-brokers, on top of what the model says of its brokers."""
    ids = sorted(b.id for b in model.brokers)
    for option, given in (("--decommission", decommission), ("--exclude-brokers", excluded)):
        unknown = sorted(set(given) - set(ids))
        if unknown:
            raise MedicError(f"{option}: unknown broker {unknown[0]}; the cluster has {ids}")
    model.mark_brokers(decommission, excluded)


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", metavar="FILE",
                        help="cluster model file (default: a snapshot of the live cluster: the dev cluster "
                        "unless --bootstrap names another)")
    add_snapshot_args(parser)
    parser.add_argument(
        "--goals",
        type=_goal_list,
        metavar="NAMES",
        help="comma-separated goals in priority order (default: all sixteen in the spec's order)",
    )
    parser.add_argument(
        "--capacity-threshold",
        action="append",
        default=[],
        metavar="RESOURCE=FRACTION",
        help="e.g. disk=0.85 (defaults: "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_CAPACITY_THRESHOLDS.items())
        + ")",
    )
    parser.add_argument(
        "--balance-band",
        metavar="LOW,HIGH",
        help="distribution goals: allowed range around the mean (default 0.9,1.1)",
    )
    parser.add_argument("--max-replicas-per-broker", type=integer(), metavar="N", help="default 10000")
    parser.add_argument("--min-leaders-topics", metavar="REGEX",
                        help="min_topic_leaders_per_broker: topics (full match) every broker must lead")
    parser.add_argument("--min-topic-leaders", type=integer(), metavar="N",
                        help="min_topic_leaders_per_broker: leaders of each such topic per broker (default 1)")
    parser.add_argument("--broker-sets", metavar="FILE",
                        help="broker_set_aware: JSON of broker sets and the topics pinned to them "
                        "(the model key 'broker_sets'; replaces the model's)")


def _thresholds(args: argparse.Namespace) -> Thresholds:
    capacity = dict(DEFAULT_CAPACITY_THRESHOLDS)
    for item in args.capacity_threshold:
        resource, _, value = item.partition("=")
        if resource not in capacity:
            raise MedicError(f"--capacity-threshold {item!r}: resource must be one of {', '.join(capacity)}")
        capacity[resource] = _fraction(value, f"--capacity-threshold {item!r}")
    fields: dict = {"capacity": capacity}
    if args.balance_band:
        option = f"--balance-band {args.balance_band!r}"
        low, comma, high = args.balance_band.partition(",")
        if not comma:
            raise MedicError(f"{option}: expected LOW,HIGH around the mean, e.g. 0.9,1.1")
        fields["balance_lower"] = _fraction(low, option)
        fields["balance_upper"] = _fraction(high, option, maximum=MAX_NUMBER)
        if fields["balance_lower"] > 1 or fields["balance_upper"] < 1:
            raise MedicError(f"{option}: expected LOW <= 1 <= HIGH, e.g. 0.9,1.1")
    if args.max_replicas_per_broker is not None:
        fields["max_replicas_per_broker"] = args.max_replicas_per_broker
    if args.min_leaders_topics is not None:
        fields["min_leaders_topics"] = args.min_leaders_topics
    if args.min_topic_leaders is not None:
        fields["min_topic_leaders"] = args.min_topic_leaders
    return Thresholds(**fields)


def _fraction(text: str, option: str, maximum: float = 1.0) -> float:
    try:
        return positive_number(maximum)(text)
    except argparse.ArgumentTypeError as exc:
        raise MedicError(f"{option}: {exc}") from None


def _goal_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    try:
        check_goal_names(names)
    except MedicError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def _ids(text: str) -> list[int]:
    try:
        return [int(i) for i in text.split(",") if i.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated broker ids") from None
