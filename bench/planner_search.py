"""Search random tight clusters for plans that fail where Cruise Control's optimizer succeeds.

    .venv/bin/python bench/planner_search.py --first 0 --count 200 [--ccplan /tmp/ccbench/ccplan]

Model K is drawn from its own seed (`draw`), over a wider range than `vs_cruise_control.py --random`:
3-80 brokers, RF 1-5, 0-10 racks, up to 3 dead, 5 new, 2 decommissioned and 2 excluded brokers,
utilisation up to `--utilisation-max` of capacity, potential nw_out hot in a third of them. Each is
planned in full, and heal-only where brokers are dead or decommissioned. A plan that fails (PlanError)
is given to Cruise Control (ccbench's `ccplan`, when `--ccplan` is given): a failure it plans with every
hard goal held is a gap, the planner's to close. Any other exception, or a plan that leaves a hard goal
broken outside offline partitions, is a bug. Writes a JSON row per plan and prints the counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from kafka_medic.goals import check
from kafka_medic.model import apply_proposal
from kafka_medic.model.files import save_model
from kafka_medic.model.placement import Placement
from kafka_medic.model.proposal import load_proposal
from kafka_medic.optimizer import PlanError, PlanOptions, plan
from kafka_medic.synthetic import Scenario, synthetic_model
from planner import with_hot_nw_out
from vs_cruise_control import judge

RESULTS = Path(__file__).parent / "results"
CC_TIMEOUT_S = 600


def draw(k: int, utilisation_max: tuple[float, ...]) -> Scenario:
    """Model number `k`: a scenario drawn from its own seed, so a row can be planned again."""
    rng = np.random.default_rng(10_000 + k)
    rf = int(rng.choice([1, 2, 3, 3, 4, 5]))
    brokers = int(rng.integers(max(rf, 3), 80))
    racks = int(rng.choice([0, 1, 2, 3, 4, 5, 7, 10]))
    special = brokers - rf
    dead = int(rng.integers(0, min(3, special) + 1)) if special > 0 else 0
    new = int(rng.integers(0, 6))
    decommission = int(rng.integers(0, 3)) if rng.random() < 0.3 else 0
    excluded = int(rng.integers(0, 3)) if rng.random() < 0.3 else 0
    if brokers - new - dead - decommission - excluded < rf + 1:
        dead = decommission = excluded = 0
    if brokers - new < rf:
        new = 0
    scenario = Scenario(
        brokers=brokers,
        partitions=int(brokers * rng.integers(5, 200)),
        replication_factor=rf,
        racks=racks,
        dead=dead,
        new=new,
        decommission=decommission,
        excluded=excluded,
        heterogeneous=bool(rng.random() < 0.5),
        utilisation=tuple(float(x) for x in rng.uniform([0.05, 0.02, 0.01, 0.02], utilisation_max)),
        drifted_leaders=float(rng.uniform(0, 0.6)),
        oldest_topics=float(rng.uniform(0.3, 1.0)),
        follower_cpu_ratio=float(rng.uniform(0, 1.0)),
        partitions_per_topic=int(rng.choice([0, 0, 1, 8, 100])),
    )
    return with_hot_nw_out(scenario, float(rng.choice([0.9, 1.1, 1.5]))) if rng.random() < 0.3 else scenario


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=0, help="the first model's number")
    parser.add_argument("--count", type=int, default=50, help="how many models")
    parser.add_argument("--ccplan", help="ccbench's `ccplan` script: failures are given to Cruise Control too")
    parser.add_argument(
        "--utilisation-max",
        type=float,
        nargs=4,
        default=(0.85, 0.8, 0.6, 0.85),
        metavar=("DISK", "NW_IN", "NW_OUT", "CPU"),
        help="highest mean utilisation drawn",
    )
    parser.add_argument("--output", help="JSON file (default bench/results/planner-search-FIRST-LAST.json)")
    args = parser.parse_args()
    last = args.first + args.count - 1
    output = Path(args.output or RESULTS / f"planner-search-{args.first}-{last}.json")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="planner-search-") as work:
        for k in range(args.first, last + 1):
            scenario = draw(k, tuple(args.utilisation_max))
            try:
                model = synthetic_model(scenario, seed=k)
            except ValueError as exc:  # a shape the generator cannot make (too few brokers for the RF)
                rows.append({"model": k, "scenario": asdict(scenario), "outcome": "not generated", "why": str(exc)})
                continue
            heals = [False, True] if scenario.dead or scenario.decommission else [False]
            for heal_only in heals:
                row = {"model": k, "heal_only": heal_only, "scenario": asdict(scenario), **_plan(model, heal_only)}
                if row["outcome"] == "failed" and args.ccplan:
                    row["cruise_control"] = _cruise_control(model, Path(work) / f"m{k}.json", args.ccplan)
                rows.append(row)
                print(
                    f"{k} {'heal' if heal_only else 'full'}: {row['outcome']} {row.get('cruise_control', '')}",
                    file=sys.stderr,
                )
                if row["outcome"] == "failed":
                    break  # a heal-only plan keeps the same hard goals: not tried again
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2) + "\n")
    planned = [r for r in rows if r.get("outcome") == "planned"]
    failed = [r for r in rows if r.get("outcome") == "failed"]
    gaps = [r["model"] for r in failed if r.get("cruise_control") == "planned, hard goals held"]
    bugs = [r["model"] for r in rows if r.get("outcome") in ("error", "hard goal broken")]
    print(
        f"{len(rows)} plans of models {args.first}-{last}: {len(planned)} planned, {len(failed)} failed "
        f"(Cruise Control planned {len(gaps)} of them: {gaps}), bugs: {bugs}; JSON {output}"
    )
    return 1 if gaps or bugs else 0


def _plan(model, heal_only: bool) -> dict:
    """kafka-medic's plan of one model: planned, failed (with the PlanError), or a bug."""
    started = time.perf_counter()
    try:
        proposal = plan(model, PlanOptions(seed=1, heal_only=heal_only))
    except PlanError as exc:
        return {"outcome": "failed", "why": str(exc), "wall_s": round(time.perf_counter() - started, 2)}
    except Exception as exc:  # noqa: BLE001 - any other exception is what the search looks for
        return {"outcome": "error", "why": f"{type(exc).__name__}: {exc}"}
    wall = round(time.perf_counter() - started, 2)
    stranded = proposal.stats.get("offline_partitions_stranded") or proposal.stats.get("replicas_left_behind")
    after = Placement.from_model(apply_proposal(model, proposal))
    broken = [r.goal for r in check(after) if r.hard and not r.satisfied]
    if broken and not stranded:
        return {"outcome": "hard goal broken", "why": broken, "wall_s": wall}
    return {"outcome": "planned", "wall_s": wall, "replica_moves": proposal.stats["num_replica_moves"]}


def _cruise_control(model, model_file: Path, ccplan: str) -> str:
    """What Cruise Control's optimizer makes of a model kafka-medic failed to plan."""
    save_model(model, model_file)
    out = model_file.with_suffix(".cc.json")
    try:
        run = subprocess.run([ccplan, str(model_file), str(out)], capture_output=True, text=True, timeout=CC_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"timed out after {CC_TIMEOUT_S} s"
    proposal = load_proposal(out) if out.exists() else None
    if run.returncode != 0 or proposal is None or proposal.stats.get("failure"):
        return "failed: " + (run.stderr.strip().splitlines() or ["no output"])[-1][-200:]
    return "planned, hard goals held" if judge(model, proposal)["hard_goals_ok"] else "planned, hard goal broken"


if __name__ == "__main__":
    sys.exit(main())
