"""The console's pages as HTML, from the read models (`overview`, `cluster`, `partitions`).

Links are absolute under /kafka-medic/, the prefix the plugin's app is mounted at, so a page renders the
same inside Airflow's navigation (an iframe) as opened on its own. The Stop button is a form POST to the
cluster's /stop, and the running execution's throttle and concurrency form a POST to its /execution; the
routes check the user's edit permission, the page only hides the forms from those who lack it.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from kafka_medic.console.cluster import ClusterView, Running
from kafka_medic.console.html import bar, duration, esc, page, size, table, when
from kafka_medic.console.overview import ClusterRow
from kafka_medic.console.partitions import PartitionPage
from kafka_medic.console.proposal import ProposalView
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.units import MB

ROOT = "/kafka-medic"
UNITS = {"disk": "MB", "nw_in": "KB/s", "nw_out": "KB/s", "cpu": "%"}


def cluster_url(name: str, sub: str = "") -> str:
    return f"{ROOT}/{quote(name)}/{sub}"


def proposal_url(name: str, ident: str) -> str:
    """The proposal page of an execution id or of a DAG run id (whose "+" and ":" are quoted)."""
    return cluster_url(name, "proposal/" + quote(ident, safe=""))


def front_page(rows: list[ClusterRow]) -> str:
    headers = ["cluster", "brokers alive / dead", "under-replicated", "offline", "open anomalies", "balancedness",
               "load model", "running execution", "last action", "maintenance"]
    return page("kafka-medic: clusters", table(headers, (_front_row(r) for r in rows), "clusters")
                + ("" if rows else '<p class="muted">No cluster in clusters.json.</p>'))


def _front_row(r: ClusterRow) -> list[str]:
    s = r.status
    name = f'<a href="{cluster_url(r.name)}">{esc(r.name)}</a>'
    if s is None:
        figures, balance, load = ['<span class="muted">no detect run yet</span>', "-", "-"], "-", "-"
    else:
        figures = [f"{s.brokers_alive} / {_count(s.brokers_dead)}", _count(s.under_replicated), _count(s.offline)]
        balance = f"{s.balancedness:.1f}"
        load = (f"{s.valid_windows}/{s.windows} windows, {100 * s.valid_partition_ratio:.0f}% partitions valid"
                + ("" if r.complete_in_min is None else f", complete in {r.complete_in_min:.0f} min"))
    anomalies = ", ".join(f"{esc(k)} {n}" for k, n in sorted(r.open_anomalies.items()) if n) or "none"
    e = r.execution
    running = "none" if e is None else (
        f"{esc(r.execution_id)}: {e.moves_done}/{e.moves_total} moves, {size(e.bytes_done)} / {size(e.bytes_total)}")
    a = r.last_action
    action = "-" if a is None else f"{esc(a.action)} {esc(a.outcome)} at {when(a.finished_at)}"
    maintenance = "off" if r.maintenance is None else f'<span class="bad">on</span> ({esc(r.maintenance.reason)})'
    return [name, *figures, anomalies, balance, load, running, action, maintenance]


def _count(n: int) -> str:
    return f'<span class="bad">{n}</span>' if n else "0"


def cluster_page(v: ClusterView, can_stop: bool, action: str | None = None, notice: str = "") -> str:
    parts = [f'<p class="ok">{esc(notice)}</p>' if notice else "", _summary(v),
             f'<p><a href="{cluster_url(v.name, "partitions")}">heaviest partitions</a></p>',
             "<h2>Brokers</h2>", _brokers(v),
             "<h2>Balance over time</h2>", _charts(v),
             "<h2>Executions</h2>", _running(v.name, v.running, can_stop), _executions(v),
             "<h2>Anomalies</h2>", _anomalies(v),
             "<h2>Action log</h2>", _actions(v, action)]
    return page(f"kafka-medic: {v.name}", "".join(parts), scripts=["uPlot.iife.min.js", "charts.js"])


def _summary(v: ClusterView) -> str:
    s = v.status
    if s is None:
        return '<p class="muted">No detect run has recorded this cluster yet.</p>'
    return (f"<p>At {when(s.at)}: {s.brokers_alive} brokers alive, {_count(s.brokers_dead)} dead; "
            f"{_count(s.under_replicated)} under-replicated and {_count(s.offline)} offline partitions; "
            f"balancedness {s.balancedness:.1f}; load model {s.valid_windows}/{s.windows} windows, "
            f"{100 * s.valid_partition_ratio:.0f}% of partitions valid.</p>")


def _brokers(v: ClusterView) -> str:
    snap = v.snapshot
    if snap is None:
        return '<p class="muted">No model snapshot yet (detect writes one each run).</p>'
    util, bands = v.utilisation_pct(), v.band_pct()
    limits = v.policy.thresholds().capacity
    headers = ["broker", "rack", "alive", *(f"{r} ({UNITS[r]})" for r in RESOURCES), "replicas", "leaders",
               "replicas on failed disks"]
    rows = []
    for i, broker in enumerate(snap.broker_ids.tolist()):
        alive = snap.alive[i]
        cells = [str(broker), esc(snap.racks[i] or "-"), "yes" if alive else '<span class="bad">dead</span>']
        for k, r in enumerate(RESOURCES):
            limit = 100.0 * limits.get(r, 1.0)
            cells.append(f'<span class="load">{bar(float(util[i, k]), bands[k], limit)} <span class="muted">'
                         f"{snap.load[i, k]:,.0f} / {snap.capacity[i, k]:,.0f}</span></span>")
        offline = int(snap.offline_replicas[i])
        cells += [str(int(snap.replicas[i])), str(int(snap.leaders[i])), _count(offline)]
        rows.append(cells)
    return (f'<p class="muted">Snapshot of {when(snap.at)}. Bars: use of capacity; dashes: the balance band '
            f"(mean x (1 +- {v.policy.balance_band})); red: over the capacity threshold.</p>"
            + table(headers, rows, "brokers"))


def _charts(v: ClusterView) -> str:
    """Two uPlot charts (24 h and 7 d) of balancedness and each resource's max and mean; data inline as JSON."""
    if not v.history["at"]:
        return '<p class="muted">No status rows yet.</p>'
    data = json.dumps(v.history).replace("</", "<\\/")
    return (f'<script type="application/json" id="history">{data}</script>'
            '<div class="chart" id="chart-day" data-span="86400" data-title="last 24 h"></div>'
            '<div class="chart" id="chart-week" data-span="604800" data-title="last 7 days"></div>')


def _running(name: str, r: Running | None, can_stop: bool) -> str:
    if r is None:
        return '<p class="muted">No execution is running.</p>'
    f = r.figures
    pct = 100.0 * f.bytes_done / f.bytes_total if f.bytes_total else 100.0
    throttles = ", ".join(f"broker {esc(b)} {esc(d)} {size(rate)}/s" for (b, d), rate in sorted(f.rates.items()))
    stop = (f'<form method="post" action="{cluster_url(name, "stop")}">'
            '<button class="stop" type="submit" id="stop">Stop (roll back moves in flight, clear throttles)</button>'
            "</form>") if can_stop else '<p class="muted">You may view this cluster but not stop its execution.</p>'
    if can_stop:
        stop = _change_form(name, r) + stop
    if r.record.stop_requested:
        stop = '<p class="bad">Stop requested.</p>'
    per_broker = table(["destination broker", "progress", "done / total"],
                       ([str(b), bar(100.0 * done / total if total else 100.0), f"{size(done)} / {size(total)}"]
                        for b, (done, total) in r.per_broker.items()), "per-broker")
    return (f'<div id="running"><p><b>Running: {esc(r.record.id)}</b> ({esc(r.record.phase)}), '
            f"{f.moves_done}/{f.moves_total} moves done, {f.moves_in_flight} in flight; "
            f'<span id="progress">{size(f.bytes_done)} / {size(f.bytes_total)} ({pct:.0f}%)</span>, '
            f'<span id="eta">ETA {duration(r.eta_s)}</span>; throttle: {throttles or "none"}</p>'
            f"{per_broker}{stop}</div>")


def _change_form(name: str, r: Running) -> str:
    """Throttle and concurrency of the running execution, posted to the cluster's /execution; empty: unchanged."""
    o = r.record.options
    throttle = "auto" if o.auto_throttle else f"{o.throttle / MB:g} MB/s" if o.throttle else "none"
    return (f'<form method="post" action="{cluster_url(name, "execution")}" id="change">'
            f'<input type="hidden" name="execution" value="{esc(r.record.id)}">'
            f'<label>throttle MB/s (now {esc(throttle)}) <input name="throttle_mb_s" id="throttle" size="6"></label> '
            f'<label>concurrency per broker (now {esc(o.concurrency or "by bytes in flight")}) '
            '<input name="concurrency" id="concurrency" size="4"></label> '
            '<button type="submit">Change</button></form>')


def _executions(v: ClusterView) -> str:
    rows = [[f'<a href="{proposal_url(v.name, e.id)}">{esc(e.id)}</a>', esc(e.status),
             esc(e.phase), when(e.started_at), when(e.finished_at), esc(e.message or "")]
            for e in v.executions]
    return table(["execution", "status", "phase", "started", "finished", "message"], rows, "executions")


def _anomalies(v: ClusterView) -> str:
    open_rows = [[esc(a.kind), esc(a.severity), esc(a.summary), when(a.first_seen)] for a in v.open_anomalies]
    past = [[esc(a.kind), esc(a.severity), esc(a.summary), when(a.first_seen), when(ended)]
            for a, ended in v.past_anomalies]
    return ("<h3>Open</h3>" + table(["kind", "severity", "summary", "since"], open_rows, "open-anomalies")
            + "<h3>Past</h3>" + table(["kind", "severity", "summary", "from", "to"], past, "past-anomalies"))


def _actions(v: ClusterView, action: str | None) -> str:
    kinds = ["all", "heal", "rebalance", "add_brokers", "decommission", "demote", "preferred_leader_election"]
    links = " ".join(f'<a href="{cluster_url(v.name)}?{urlencode({"action": k})}">{esc(k)}</a>' if k != "all"
                     else f'<a href="{cluster_url(v.name)}">all</a>' for k in kinds)
    rows = [[when(a.finished_at), esc(a.action), esc(a.outcome), esc(a.approved_by),
             f"{a.moves_done}/{a.moves_planned}", size(a.bytes_moved), esc("; ".join(a.why)),
             esc(a.message)] for a in v.actions]
    shown = f" (only {esc(action)})" if action else ""
    return (f"<p>Newest first{shown}. Kind: {links}</p>"
            + table(["finished", "action", "outcome", "approved by", "moves", "moved", "why", "message"], rows,
                    "actions"))


def partitions_page(name: str, p: PartitionPage, error: str = "") -> str:
    options = "".join(f'<option value="{r}"{" selected" if r == p.resource else ""}>{r}</option>' for r in RESOURCES)
    form = (f'<form method="get" action="{cluster_url(name, "partitions")}">By <select name="resource">{options}'
            f'</select> topic regex <input name="topic" value="{esc(p.topic)}"> <button type="submit">show</button>'
            "</form>")
    rows = [[esc(r.topic), str(r.partition), str(r.leader) if r.leader >= 0 else '<span class="bad">offline</span>',
             *(f"{r.load[res]:,.2f}" for res in RESOURCES)] for r in p.rows]
    query = {"resource": p.resource, "topic": p.topic}
    pager = _pager(cluster_url(name, "partitions"), query, p.page, p.pages)
    body = (f'<p><a href="{cluster_url(name)}">back to {esc(name)}</a></p>{form}'
            + (f'<p class="bad">{esc(error)}</p>' if error else "")
            + f"<p>{p.matching:,} partitions match; page {p.page} of {p.pages}. {pager}</p>"
            + table(["topic", "partition", "leader", *(f"{r} ({UNITS[r]})" for r in RESOURCES)], rows, "partitions"))
    return page(f"kafka-medic: {name}: heaviest partitions by {p.resource}", body)


def proposal_page(name: str, p: ProposalView, error: str = "") -> str:
    stats = p.proposal.stats
    summary = (f'<p>Plan {esc(p.id)} (<span id="plan-status">{esc(p.status)}</span>), {len(p.proposal.moves)} '
               "moves; balancedness "
               f"{esc(stats.get('balancedness_before', '-'))} before, {esc(stats.get('balancedness_after', '-'))} "
               f"after; goals: {esc(', '.join(p.proposal.goals) or 'default')}.</p>")
    headers = ["broker", "state", *(f"{r} before / after" for r in RESOURCES), "replicas", "leaders"]
    rows = []
    for b in p.brokers:
        capacity = b.get("capacity", {})
        cells = [esc(b.get("id")), esc(b.get("state", ""))]
        for r in RESOURCES:
            cap = capacity.get(r) or 0.0
            before, after = (100.0 * b[k].get(r, 0.0) / cap if cap else 0.0 for k in ("before", "after"))
            cells.append(f"{bar(before)}<br>{bar(after)}")
        cells += [f"{b['before'].get(k, 0):.0f} &rarr; {b['after'].get(k, 0):.0f}" for k in ("replicas", "leaders")]
        rows.append(cells)
    base = proposal_url(name, p.id)
    form = (f'<form method="get" action="{base}">topic regex <input name="topic" value="{esc(p.topic)}"> '
            '<button type="submit">filter</button></form>')
    moves = [[esc(m.move.topic), str(m.move.partition), esc(m.move.old_replicas), esc(m.move.new_replicas),
              esc(m.move.old_leader), esc(m.move.new_leader), esc(m.reason)] for m in p.moves]
    pager = _pager(base, {"topic": p.topic}, p.page, p.pages)
    body = (f'<p><a href="{cluster_url(name)}">back to {esc(name)}</a></p>{summary}'
            "<h2>Brokers: use of capacity before (upper bar) and after (lower bar)</h2>"
            + table(headers, rows, "proposal-brokers")
            + f"<h2>Moves</h2>{form}" + (f'<p class="bad">{esc(error)}</p>' if error else "")
            + f"<p>{p.matching:,} moves match; page {p.page} of {p.pages}. {pager}</p>"
            + table(["topic", "partition", "replicas before", "after", "leader before", "after", "reason"], moves,
                    "moves"))
    return page(f"kafka-medic: {name}: proposal {p.id}", body)


def stop_page(name: str, outcome: str) -> str:
    return page(f"kafka-medic: {name}: stop", f'<p id="outcome">{esc(outcome)}</p>'
                f'<p><a href="{cluster_url(name)}">back to {esc(name)}</a></p>')


def _pager(url: str, query: dict[str, str], page: int, pages: int) -> str:
    """The "previous" and "next" links of a paginated view, each only where that page exists."""
    return " ".join(f'<a href="{url}?{urlencode({**query, "page": n})}">{label}</a>'
                    for n, label in ((page - 1, "previous"), (page + 1, "next")) if 1 <= n <= pages)
