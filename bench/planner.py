"""Planner benchmark: synthetic skewed clusters of 10, 100 and 1,000 brokers, planned with all goals.

Each size runs in its own process so that its peak RSS is its own. For each size it records wall and
CPU time of `plan()`, peak RSS, moves, data moved against the lower bound, balancedness and the
utilisation spread before and after, and the same figures for the plan `kafka-reassign-partitions.sh
--generate` would make (Kafka's rack-aware round robin over the live brokers, ignoring load).

    .venv/bin/python bench/planner.py                       # all sizes, JSON in bench/results/
    .venv/bin/python bench/planner.py --sizes small --heterogeneous
    .venv/bin/python bench/planner.py --sizes large --partitions-per-topic 1   # 100,000 one-partition topics
    .venv/bin/python bench/planner.py --sizes medium --hot-nw-out 1.1   # potential nw_out 110% of capacity
    .venv/bin/python bench/planner.py --sizes large --tag after   # bench/results/planner-large-after.json
    .venv/bin/python bench/planner.py --sizes cc-worst --partitions 100000 --no-round-robin   # its shape, scaled down

`plan_hash` in the JSON (the moves, then the final replicas and leader of every partition) shows that a
change to the planner left its plans as they were: compare it before and after on the same size and seed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from kafka_medic.goals import check
from kafka_medic.goals.base import Thresholds
from kafka_medic.model import ClusterModel, Move, Proposal, apply_proposal
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer import PlanOptions, balancedness, plan
from kafka_medic.optimizer.proposal import utilisation
from kafka_medic.synthetic import Scenario, synthetic_model

RESULTS = Path(__file__).parent / "results"
SIZES = {
    "small": Scenario(brokers=10, partitions=1_000, racks=5, new=2, dead=0),
    "medium": Scenario(brokers=100, partitions=20_000, racks=5, new=5, dead=2),
    "large": Scenario(brokers=1_000, partitions=100_000, racks=5, new=50, dead=10),
    # Cruise Control's worst published case (its issue #1592): about 215 brokers and 2.8M replicas
    "cc-worst": Scenario(brokers=215, partitions=933_334, racks=5, new=5, dead=2),
}
# 2.8M replicas on 213 brokers that keep data are 13,100 a broker: above the spec's default limit of
# 10,000 (Cruise Control's max.replicas.per.broker), which such a cluster must have raised
MAX_REPLICAS_PER_BROKER = {"cc-worst": 20_000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--heterogeneous", action="store_true", help="brokers of three disk sizes")
    parser.add_argument("--partitions-per-topic", type=int, default=0, metavar="N",
                        help="every topic has N partitions (default: mostly small topics, a few large)")
    parser.add_argument("--hot-nw-out", type=float, default=0.0, metavar="FACTOR",
                        help="scale nw_out so that potential nw_out (every replica's partition's leader nw_out) "
                             "totals FACTOR x the nw_out capacity: above 1 x 0.8, potential_network_outbound "
                             "cannot hold on every broker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=0, metavar="N",
                        help="N partitions instead of the size's own (a scaled-down cc-worst, say)")
    parser.add_argument("--no-round-robin", action="store_true",
                        help="skip the round-robin comparison (minutes of Python at 2.8M replicas)")
    parser.add_argument("--tag", default="", help="appended to the result file names (rows beside the old ones)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one size in this process, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.heterogeneous, args.seed, args.partitions_per_topic, args.hot_nw_out,
                                 not args.no_round_robin, args.partitions)))
        return 0
    RESULTS.mkdir(exist_ok=True)
    rows = []
    for size in args.sizes.split(","):
        command = [sys.executable, __file__, "--one", size, "--seed", str(args.seed),
                   "--partitions-per-topic", str(args.partitions_per_topic), "--hot-nw-out", str(args.hot_nw_out),
                   "--partitions", str(args.partitions)]
        command += ["--heterogeneous"] if args.heterogeneous else []
        command += ["--no-round-robin"] if args.no_round_robin else []
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        name = (f"planner-{size}{f'-{args.partitions}-partitions' if args.partitions else ''}"
                f"{'-heterogeneous' if args.heterogeneous else ''}"
                f"{f'-topics-of-{args.partitions_per_topic}' if args.partitions_per_topic else ''}"
                f"{f'-hot-nw-out-{args.hot_nw_out:g}' if args.hot_nw_out else ''}"
                f"{f'-{args.tag}' if args.tag else ''}.json")
        (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
        rows.append(result)
        print(
            f"{size}: {result['plan']['wall_s']:.1f}s wall, {result['plan']['cpu_s']:.1f}s cpu",
            file=sys.stderr,
        )
    print(markdown(rows))
    return 0


def run_one(
    size: str,
    heterogeneous: bool,
    seed: int,
    partitions_per_topic: int,
    hot_nw_out: float,
    compare: bool = True,
    partitions: int = 0,
) -> dict:
    scenario = replace(SIZES[size], heterogeneous=heterogeneous, partitions_per_topic=partitions_per_topic)
    if partitions:
        scenario = replace(scenario, partitions=partitions)
    if hot_nw_out:
        scenario = with_hot_nw_out(scenario, hot_nw_out)
    model = synthetic_model(scenario, seed=seed, cluster=f"bench-{size}")
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    limit = MAX_REPLICAS_PER_BROKER.get(size, Thresholds().max_replicas_per_broker)
    proposal = plan(model, PlanOptions(seed=seed, thresholds=Thresholds(max_replicas_per_broker=limit)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = proposal.stats
    return {
        "size": size,
        "scenario": asdict(scenario),
        "brokers": len(model.brokers),
        "partitions": len(model.partitions),
        "replicas": sum(len(p.replicas) for p in model.partitions),
        "plan": {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "load_average_at_start": round(load, 1),
            "peak_rss_mb": round(peak_mb, 1),
            "replica_moves": s["num_replica_moves"],
            "leader_moves": s["num_leader_moves"],
            "data_moved_mb": s["data_to_move_mb"],
            "data_lower_bound_mb": s["data_lower_bound_mb"],
            "data_to_lower_bound": s["data_to_lower_bound"],
            "balancedness_before": s["balancedness_before"],
            "balancedness_after": s["balancedness_after"],
            "violated_goals_before": s["violated_goals_before"],
            "violated_goals_after": s["violated_goals_after"],
            "violations_after": {r["goal"]: r["violation"] for r in s["goal_results_after"] if not r["satisfied"]},
            "infeasible_goals": s.get("infeasible_goals", []),
            "utilisation_before": s["utilisation_before"],
            "utilisation_after": s["utilisation_after"],
            "plan_hash": plan_hash(model, proposal),
        },
        "round_robin": round_robin_stats(model, seed, s["data_lower_bound_mb"]) if compare else None,
    }


def plan_hash(model: ClusterModel, proposal: Proposal) -> str:
    """A digest of the moves in order and of every partition's replicas and leader after them."""
    digest = hashlib.sha256()
    for move in proposal.moves:
        digest.update(repr(move).encode())
    after = apply_proposal(model, proposal)
    for p in sorted(after.partitions, key=lambda p: (p.topic, p.partition)):
        digest.update(repr((p.topic, p.partition, p.replicas, p.leader)).encode())
    return digest.hexdigest()[:16]


def with_hot_nw_out(scenario: Scenario, factor: float) -> Scenario:
    """The scenario with nw_out scaled so that potential nw_out (every replica's partition's leader
    nw_out) totals `factor` x the nw_out capacity of the brokers that keep data."""
    disk, nw_in, _, cpu = scenario.utilisation
    return replace(scenario, utilisation=(disk, nw_in, factor / scenario.replication_factor, cpu))


def round_robin_stats(model: ClusterModel, seed: int, lower_bound_mb: float) -> dict:
    """What applying `kafka-reassign-partitions.sh --generate` for every topic would give."""
    proposal = round_robin(model, seed)
    after = apply_proposal(model, proposal)
    data = sum(
        p.load["disk"] * len(set(m.new_replicas) - set(m.old_replicas))
        for m, p in zip(proposal.moves, _partitions_of(model, proposal), strict=True)
    )
    results = check(after)
    placement = Placement.from_model(after)
    return {
        "replica_moves": sum(len(m.added_brokers) for m in proposal.moves),
        "data_moved_mb": round(data, 1),
        "data_to_lower_bound": round(data / lower_bound_mb, 3) if lower_bound_mb else None,
        "balancedness_after": balancedness(results),
        "violated_goals_after": [r.goal for r in results if not r.satisfied],
        "utilisation_after": utilisation(placement, placement.metrics),
    }


def round_robin(model: ClusterModel, seed: int) -> Proposal:
    """Kafka's replica assignment (AdminUtils, rack-aware variant) over the live brokers, per topic:
    a rack-alternating broker list, a random start and a replica shift that grows every full round."""
    rng = np.random.default_rng(seed)
    live = [b for b in model.brokers if b.alive and not b.decommission and not b.excluded]
    racks: dict[str, list[int]] = {}
    for b in sorted(live, key=lambda b: b.id):
        racks.setdefault(b.rack if b.rack is not None else f"\0{b.id}", []).append(b.id)
    columns = list(racks.values())
    order = [col[i] for i in range(max(len(c) for c in columns)) for col in columns if i < len(col)]
    n = len(order)
    rack_of = {b.id: b.rack if b.rack is not None else f"\0{b.id}" for b in live}
    by_topic: dict[str, list] = {}
    for p in model.partitions:
        by_topic.setdefault(p.topic, []).append(p)
    moves = []
    for partitions in by_topic.values():
        start, shift = int(rng.integers(n)), int(rng.integers(n))
        for i, p in enumerate(sorted(partitions, key=lambda p: p.partition)):
            if i > 0 and i % n == 0:
                shift += 1
            first = (i + start) % n
            replicas = [order[first]]
            k = 0
            while len(replicas) < len(p.replicas) and k < 4 * n:
                candidate = order[(first + 1 + (shift + k) % max(n - 1, 1)) % n]
                k += 1
                racks_used = {rack_of[r] for r in replicas}
                if candidate in replicas:
                    continue
                if rack_of[candidate] in racks_used and len(racks_used) < len(racks) and k < 2 * n:
                    continue
                replicas.append(candidate)
            if replicas != p.replicas:
                moves.append(Move(p.topic, p.partition, p.replicas, replicas, p.leader, replicas[0]))
    return Proposal(model.cluster, [], moves, {})


def _partitions_of(model: ClusterModel, proposal: Proposal):
    index = {(p.topic, p.partition): p for p in model.partitions}
    return [index[(m.topic, m.partition)] for m in proposal.moves]


def markdown(rows: list[dict]) -> str:
    head = (
        "| size | brokers / partitions / replicas | wall s (cpu s) | peak RSS MB | replica moves | "
        "leader moves | data moved GB | vs lower bound | balancedness before -> after | "
        "max/mean disk, nw_in, nw_out, cpu before -> after | round robin: moves, GB, vs bound, "
        "balancedness, max/mean | still violated after (violation) |\n|" + "---|" * 12
    )
    lines = [head]
    for r in rows:
        p, rr = r["plan"], r["round_robin"]
        compared = (
            f"{rr['replica_moves']:,}, {rr['data_moved_mb'] / 1024:,.0f}, {rr['data_to_lower_bound']:.2f}x, "
            f"{rr['balancedness_after']:.1f}, {_spread(rr['utilisation_after'])}" if rr else "not run"
        )
        lines.append(
            f"| {r['size']} | {r['brokers']:,} / {r['partitions']:,} / {r['replicas']:,} "
            f"| {p['wall_s']:.1f} ({p['cpu_s']:.1f}) | {p['peak_rss_mb']:.0f} | {p['replica_moves']:,} "
            f"| {p['leader_moves']:,} | {p['data_moved_mb'] / 1024:,.0f} | {p['data_to_lower_bound']:.2f}x "
            f"| {p['balancedness_before']:.1f} -> {p['balancedness_after']:.1f} "
            f"| {_spread(p['utilisation_before'])} -> {_spread(p['utilisation_after'])} "
            f"| {compared} | {_violations(p['violations_after'])} |"
        )
    return "\n".join(lines)


def _violations(violations: dict) -> str:
    return ", ".join(f"{goal} ({v:.3g})" for goal, v in violations.items()) or "none"


def _spread(utilisation: dict) -> str:
    return ", ".join(f"{v['max_over_mean']:.2f}" for v in utilisation.values())


if __name__ == "__main__":
    sys.exit(main())
