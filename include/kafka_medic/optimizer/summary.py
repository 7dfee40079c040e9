"""A proposal as text a person can approve at a glance (CLI, Airflow approval gate, Slack).

It reads only the proposal (moves and stats), so it works on a proposal file as well as a fresh plan.
"""

from __future__ import annotations

from typing import Any

from kafka_medic.goals.base import describe
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.proposal import Proposal
from kafka_medic.tables import format_table, printable


def render_summary(proposal: Proposal, max_moves: int = 20, max_brokers: int | None = None) -> str:
    """Headline numbers, why the moves are needed, the first moves and a before/after table per broker.

    `max_brokers` keeps the brokers whose load changes most (all by default).
    """
    s = proposal.stats
    partial = partial_note(proposal)
    lines = [headline(proposal), *([partial] if partial else []), _balance_line(s), *_data_lines(s)]
    if s.get("moves_by_goal"):
        lines.append("Why: " + ", ".join(f"{goal} {n}" for goal, n in s["moves_by_goal"].items()))
    still = [r for r in s.get("goal_results_after", []) if not r["satisfied"]]
    lines += [f"  still violated: {r['goal']}: {r['detail']}" for r in still]
    if s.get("options", {}).get("heal_only"):
        lines.append("Heal only: replicas move off dead and decommissioned brokers and failed disks, and where a "
                     "hard goal needs it; a rebalance evens out what the soft goals still lack")
    lines += [
        f"  cannot hold: {g['goal']}: {g['why']}; optimized as far as it goes (violation {g['best_reached']:.3g}), "
        "then only kept from getting worse by the goals after it"
        for g in s.get("infeasible_goals", [])
    ]
    lines = [printable(line) for line in lines]  # topic and cluster names reach terminals and Slack
    if proposal.moves:
        lines += ["", _moves_table(proposal, max_moves)]
    if s.get("brokers"):
        lines += ["", brokers_table(s["brokers"], max_brokers)]
    return "\n".join(lines)


def headline(proposal: Proposal) -> str:
    s = proposal.stats
    return (
        f"Plan for cluster {proposal.cluster}: {s['num_replica_moves']:,} replica moves, "
        f"{s['num_leader_moves']:,} leader moves, {len(proposal.moves):,} partitions changed "
        f"(planned in {s['duration_s']:.2f}s)"
    )


def partial_note(proposal: Proposal) -> str | None:
    """What a capped heal or decommission, or offline partitions, leave behind; None when the plan
    empties every broker it must."""
    s = proposal.stats
    capped, offline = s.get("replicas_left_behind"), s.get("offline_partitions_stranded")
    if not capped and not offline:
        return None
    where = ", ".join(f"{b['state']} broker {b['id']} ({b['replicas']:,})" for b in s["left_behind_brokers"])
    notes = []
    if offline:
        notes.append(f"{len(offline):,} offline partitions (no leader) stay, since no replica can copy their "
                     f"data until one of theirs returns (or an unclean leader election): {describe(offline)}")
    if capped:
        cap = s.get("options", {}).get("max_replica_moves")
        notes.append(f"max_replica_moves={cap} left {capped:,} replicas, having moved the most urgent first; "
                     "plan again after these moves to finish")
    remain = sum(b["replicas"] for b in s["left_behind_brokers"])
    return f"PARTIAL: {remain:,} replicas remain on {where}: " + "; ".join(notes)


def _balance_line(s: dict[str, Any]) -> str:
    before = ", ".join(s["violated_goals_before"]) or "none"
    after = ", ".join(s["violated_goals_after"]) or "none"
    return (
        f"Balancedness {s['balancedness_before']:.2f} -> {s['balancedness_after']:.2f}; "
        f"violated goals before: {before}; after: {after}"
    )


def _data_lines(s: dict[str, Any]) -> list[str]:
    line = f"Data to move: {format_mb(s['data_to_move_mb'])}"
    if s.get("data_to_lower_bound") is not None:
        line += f" ({s['data_to_lower_bound']:.2f}x the lower bound of {format_mb(s['data_lower_bound_mb'])})"
    lines = [line]
    before, after = s.get("utilisation_before"), s.get("utilisation_after")
    if before and after:
        spread = [f"{r} {before[r]['max_pct']:.1f}% -> {after[r]['max_pct']:.1f}%" for r in RESOURCES]
        means = ", ".join(f"{r} {after[r]['mean_pct']:.1f}%" for r in RESOURCES)
        lines.append("Busiest broker: " + "; ".join(spread) + f" (means: {means})")
    return lines


def _moves_table(proposal: Proposal, limit: int) -> str:
    reasons = proposal.stats.get("move_reasons") or [None] * len(proposal.moves)
    rows = [
        (
            f"{m.topic}-{m.partition}",
            f"{_ids(m.old_replicas)} -> {_ids(m.new_replicas)}",
            f"{m.old_leader} -> {m.new_leader}" if m.old_leader != m.new_leader else str(m.new_leader),
            reason,
        )
        for m, reason in list(zip(proposal.moves, reasons, strict=True))[:limit]
    ]
    title = (
        f"Moves (first {len(rows)} of {len(proposal.moves):,}):"
        if len(rows) < len(proposal.moves)
        else "Moves:"
    )
    return title + "\n" + format_table(rows, ("partition", "replicas", "leader", "reason"))


def brokers_table(brokers: list[dict[str, Any]], limit: int | None) -> str:
    shown = brokers
    if limit is not None and len(brokers) > limit:
        shown = sorted(brokers, key=_change, reverse=True)[:limit]
        shown.sort(key=lambda b: b["id"])
    rows = []
    for b in shown:
        state = b["state"] + (", excluded" if b.get("excluded") else "")
        row = [b["id"], state]
        for r in RESOURCES:
            cap = b["capacity"][r]
            row.append(f"{_pct(b['before'][r], cap)} -> {_pct(b['after'][r], cap)}")
        row += [f"{b['before']['replicas']:.0f} -> {b['after']['replicas']:.0f}"]
        row += [f"{b['before']['leaders']:.0f} -> {b['after']['leaders']:.0f}"]
        rows.append(row)
    title = "Brokers, % of capacity before -> after" + (
        f" ({len(shown)} of {len(brokers)} that change most)" if len(shown) < len(brokers) else ""
    )
    headers = ("broker", "state", *(f"{r}%" for r in RESOURCES), "replicas", "leaders")
    return title + ":\n" + format_table(rows, headers)


def _change(broker: dict[str, Any]) -> float:
    return sum(
        abs(broker["after"][r] - broker["before"][r]) / broker["capacity"][r]
        for r in RESOURCES
        if broker["capacity"][r] > 0
    )


def _pct(load: float, capacity: float) -> str:
    return f"{100 * load / capacity:.1f}" if capacity > 0 else "-"


def _ids(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def format_mb(mb: float) -> str:
    return f"{mb / 1024:,.1f} GB" if mb >= 1024 else f"{mb:,.1f} MB"
