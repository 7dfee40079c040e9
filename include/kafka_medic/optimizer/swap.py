"""Swaps: exchange a heavy replica for a light one, or trade leaderships, when single moves cannot help
(a mixin of `Search`).

A move changes replica counts and every resource on two brokers at once, so once earlier goals hold
tightly (counts within 10%, say) a broker can often shed only by taking something back.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.bounded import holding_brokers
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.optimizer.balance import MAX_SWAPS, covered
from kafka_medic.optimizer.state import SearchState

SWAP_PARTNERS = 16  # brokers at the other end of the band a broker tries to swap with
SWAP_CANDIDATES = 32  # replicas per side by load, and as many by density (so up to 64 x 64 pairs)
MENU_SWAPS = 4  # swaps taken from one look at two brokers' candidates before they are looked at anew
SWAP_RECHECKS = 2  # pairs of a menu re-checked for the next swap before the menu is drawn anew
LOADS = [DISK, NW_IN, NW_OUT, CPU]


class Swapping(SearchState):
    # per (broker, metric, largest, whether the move budget was spent), see `_swap_ranking`
    _swap_rankings: dict[tuple[int, int, bool, bool], SwapRanking]
    # (P,) size of each partition's leader and follower replica in all resources, in mean replicas
    _swap_sizes: tuple[np.ndarray, ...] | None = None
    # ((metric, goals optimized so far), level) of `_homecoming_limit`, for the goal being balanced
    _stuck_level: tuple[tuple[int, int], float] | None = None
    _held_before: tuple[np.ndarray, np.ndarray] | None = None  # see `_away_from`

    def _swap(self, metric: int, broker: int, limit: float, tolerance: float, shed: bool) -> int:
        """Exchange replicas with the brokers at the other end of the band when moves alone cannot help
        (typically because a move would break an earlier goal, such as replica counts).

        Shedding, `broker` gives a replica heavy in `metric` for a light one from one of the least
        loaded brokers; filling, the reverse. Every bounded goal must accept the net change on both
        brokers, and the goal being balanced must gain (a limit's own constraint keeps the partner
        within it: a capacity goal swaps what moves alone left above the limit).

        Once the move budget is spent (a heal-only plan once healed), a broker above the band may still
        choose which of its replicas the plan moves: a replica moved away from it comes home and a
        heavier one goes in its place (`_swap_side`). That adds data and no move, so it is done only
        down to the highest level a broker with nothing moved away can reach (`_homecoming_limit`):
        below it, the plan's peak would not fall.
        """
        p = self.p
        share = p.metrics[:, metric] / self.fair[:, metric]
        partners = np.flatnonzero(
            self.can_receive & (share < share[broker] if shed else share > share[broker])
        )
        home_limit, away = np.inf, np.zeros(0, dtype=np.int64)
        if self._budget_spent():  # only moved replicas move, or come home: no pair without them is looked at
            away = self._away_from(broker) if shed and self.band is not None else away
            home_limit = self._homecoming_limit(metric, broker, limit) if len(away) else np.inf
            partners = partners[p.moved_in[partners] > 0]
            partners = partners if p.moved_in[broker] else partners[np.isin(partners, away)]
        # the brokers a swap can bring a replica home from first
        order = (share[partners] if shed else -share[partners], ~np.isin(partners, away))
        partners = partners[np.lexsort(order)]
        swaps = 0
        for partner in partners[:SWAP_PARTNERS]:
            heavy_on, light_on = (broker, int(partner)) if shed else (int(partner), broker)
            menu = None
            while swaps < MAX_SWAPS:
                need = p.metrics[broker, metric] - limit if shed else limit - p.metrics[broker, metric]
                if need <= tolerance:
                    return swaps
                home_need = p.metrics[broker, metric] - home_limit
                homecoming = home_need > tolerance and partner in away
                need = min(need, home_need) if homecoming else need
                pair = None
                if menu is not None and menu.uses < MENU_SWAPS and menu.homecoming == homecoming:
                    pair = self._next_swap(menu, heavy_on, light_on, need)
                if pair is None:  # none left from the last look at these two brokers: look again
                    menu = self._swap_menu(metric, heavy_on, light_on, homecoming)
                    pair = menu.best(need) if menu is not None else None
                if pair is None or menu is None:
                    break
                menu.taken(*pair)
                self._swap_pair(int(menu.heavy[pair[0]]), int(menu.light[pair[1]]), heavy_on, light_on)
                swaps += 1
        return swaps

    def _homecoming_limit(self, metric: int, broker: int, limit: float) -> float:
        """How far `broker` may shed by bringing replicas home (see `_swap`): the highest share of the
        band's upper limit that a broker without a replica moved away holds in replicas it held before
        the plan, which is as low as the spent budget lets it go. Drawn once per goal: homecomings move
        no such replica."""
        assert self.band is not None
        upper = self.band[2]
        key = (metric, len(self.reasons))  # the goal being optimized
        if self._stuck_level is None or self._stuck_level[0] != key:
            p = self.p
            kept = np.flatnonzero(p.is_original(np.arange(len(p.slot_broker))))
            held = np.bincount(p.slot_broker[kept], weights=p.slot_vectors(kept)[:, metric], minlength=p.num_brokers)
            stuck = holding_brokers(p) & (upper > 0) & ~np.isin(np.arange(p.num_brokers), self._brokers_away())
            level = float((held[stuck] / upper[stuck]).max()) if stuck.any() else 0.0
            self._stuck_level = (key, level)
        return max(limit, self._stuck_level[1] * float(upper[broker]))

    def _swap_pair(self, a: int, b: int, heavy_on: int, light_on: int) -> None:
        """Move slot `a` to `light_on` and `b` to `heavy_on`, and carry both brokers' swap rankings over
        instead of ranking their 13,000 slots anew: moves keep every slot's role, so only `a` and `b`
        change places (in the order `slots_on` gives, which a rebuilt ranking would have)."""
        p = self.p
        before = int(p.version[heavy_on]), int(p.version[light_on])
        last = p.last_on(heavy_on)
        self._move(a, light_on)
        self._move(b, heavy_on)
        # heavy_on: `a` leaves by swap-remove (`last` takes its place if movable), then `b` is appended;
        # light_on: `a` is appended, then `b` leaves by swap-remove, so `a` takes `b`'s place
        self._carry_rankings(heavy_on, before[0], a, b, "last" if self.movable[p.slot_partition[last]] else "delete")
        self._carry_rankings(light_on, before[1], b, a, "here")

    def _carry_rankings(self, on: int, version: int, out: int, into: int, how: str) -> None:
        """Update the rankings of `on` current at `version` for slot `out` leaving and `into` arriving."""
        for (broker, metric, largest, spent), ranking in list(self._swap_rankings.items()):
            if broker != on or ranking.version != version:
                continue
            if spent:  # only the moved slots, not in the broker's slot order: drawn anew when asked
                del self._swap_rankings[(broker, metric, largest, spent)]
                continue
            keys = self._swap_keys(np.array([into]), metric, largest)
            ranking.replace(int(self.p.version[on]), out, into, keys, how)

    def _swap_menu(self, metric: int, heavy_on: int, light_on: int, homecoming: bool = False) -> SwapMenu | None:
        """The pairs of slots (one on `heavy_on`, one on `light_on`) whose exchange moves `metric` from
        heavy_on to light_on and every goal accepts now; None if there is none. `homecoming`: the
        budget is spent and a replica on light_on may come home to heavy_on for any of its slots."""
        heavy, hv = self._swap_side(heavy_on, light_on, metric, largest=True, homecoming=homecoming)
        light, lv = self._swap_side(light_on, heavy_on, metric, largest=False)
        if not len(heavy) or not len(light):
            return None
        delta = hv[:, None, :] - lv[None, :, :]  # what heavy_on loses and light_on gains, per pair
        gain = delta[:, :, metric]
        ok = (gain > 0) & (self.p.slot_partition[heavy][:, None] != self.p.slot_partition[light][None, :])
        ok &= self._swap_budget_ok(heavy, light_on, light, heavy_on)
        ok &= self._swap_accepted(heavy_on, light_on, delta, metric)
        moved = self._cost(heavy)[:, None] + self._cost(light)[None, :]  # MB each pair adds to the plan
        ok &= self._dense_enough(gain, moved, metric)
        if not ok.any():
            return None
        # pairs that keep both topics within the topic goal's limit first (see `Balancing._fill_replicas`)
        roomy = ok & self._in_tier(1, heavy, light_on)[:, None] & self._in_tier(1, light, heavy_on)[None, :]
        return SwapMenu(heavy, light, delta, roomy if roomy.any() else ok, moved + self.cost_floor, metric, homecoming)

    def _next_swap(self, menu: SwapMenu, heavy_on: int, light_on: int, need: float) -> tuple[int, int] | None:
        """The menu's best pair for `need` that every goal still accepts after the swaps made since it was
        drawn up (they changed both brokers' loads); None after SWAP_RECHECKS refusals, to draw it anew.

        Drawing a menu up (ranking both brokers' slots, checking 64 x 64 pairs) cost 1.1 ms a swap: the
        nw_in goal on 1,000 brokers with 50 new made 4,700 swaps, ~8 a broker pair, in 5.1 of its 7.3 s.
        Up to MENU_SWAPS swaps now come from one menu, each re-checked alone: that plan takes 15.7 cpu s
        instead of 17.5, moving 0.1% more data. A menu used longer misses the pairs its own swaps opened
        (16 swaps a menu: 14.3 s, 1.4% more data)."""
        for _ in range(SWAP_RECHECKS):
            pair = menu.best(need)
            if pair is None:
                return None
            a, b = np.array([menu.heavy[pair[0]]]), np.array([menu.light[pair[1]]])
            if (  # what `_swap_side` and `_swap_menu` checked
                self._swap_budget_ok(a, light_on, b, heavy_on)[0, 0]
                and self.acceptance.placeable(a, light_on)[0]
                and self.acceptance.placeable(b, heavy_on)[0]
                and self._swap_accepted(heavy_on, light_on, menu.delta[pair][None], menu.metric)[0]
            ):
                return pair
            menu.ok[pair] = False
        return None

    def _swap_accepted(self, heavy_on: int, light_on: int, delta: np.ndarray, metric: int) -> np.ndarray:
        """(...) whether each exchange, taking `delta` (..., METRICS) from `heavy_on` to `light_on`, is
        accepted by every goal on both brokers and lowers the violation of the band being balanced."""
        ok = self.acceptance.change_ok(heavy_on, -delta) & self.acceptance.change_ok(light_on, delta)
        if self.band is None:  # a limit: its own constraint above keeps light_on within it
            return ok
        return ok & self._band_improves(np.array([heavy_on]), np.array([light_on]), delta[..., metric])

    def _swap_side(
        self, on: int, to: int, metric: int, largest: bool, homecoming: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Slots on `on` that may move to `to`: the SWAP_CANDIDATES heaviest (or lightest) in `metric`, and
        as many densest (or sparsest) in it. Once the move budget is spent, only moved slots, unless
        `homecoming`: `to` holds a replica moved away from `on`, whose return frees the move another takes."""
        spent = self._budget_spent() and not homecoming
        ranking = self._swap_ranking(on, metric, largest, spent)
        slots = ranking.slots
        keep = np.union1d(self._first_placeable(ranking, 0, to), self._first_placeable(ranking, 1, to))
        slots = slots[keep]
        return slots, self.p.slot_vectors(slots)

    def _swap_budget_ok(self, a: np.ndarray, a_to: int, b: np.ndarray, b_to: int) -> np.ndarray:
        """(len(a), len(b)) whether exchanging a[i] (moving to `a_to`) with b[j] (to `b_to`) keeps the
        plan within the move budget: it adds no move (a replica going home makes up for the other's
        move), or the budget has room for what it adds."""
        added = self._added_moves(a, a_to)[:, None] + self._added_moves(b, b_to)[None, :]
        if self.move_budget is None:
            return np.ones(added.shape, dtype=bool)
        return (added <= 0) | (self.p.replica_moves + added <= self.move_budget)

    def _added_moves(self, slots: np.ndarray, to: int) -> np.ndarray:
        """(n,) what moving each slot to `to` adds to the plan's replica moves: 1, 0 or -1 (home)."""
        arrives = ~(self.p.original_brokers[self.p.slot_partition[slots]] == to).any(axis=1)
        return arrives.astype(np.int64) - ~self.p.is_original(slots)

    def _away_from(self, home: int) -> np.ndarray:
        """The brokers that hold a replica the plan moved away from `home`, in index order."""
        if self._held_before is None:  # each broker's partitions before the plan, movable ones: fixed
            brokers = self.p.original_brokers
            rows = np.flatnonzero((brokers >= 0).ravel() & np.repeat(self.movable, brokers.shape[1]))
            order = rows[np.argsort(brokers.ravel()[rows], kind="stable")]
            counts = np.bincount(brokers.ravel()[rows], minlength=self.p.num_brokers)
            self._held_before = (order // brokers.shape[1], np.concatenate([[0], np.cumsum(counts)]))
        parts, starts = self._held_before
        brokers, _ = self._moved_away(parts[starts[home] : starts[home + 1]])
        return np.unique(brokers)

    def _brokers_away(self) -> np.ndarray:
        """The brokers the plan moved a replica away from."""
        return np.unique(self._moved_away(np.flatnonzero(self.movable))[1])

    def _moved_away(self, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of `parts`' replicas: the brokers of those the plan moved, and the original brokers that lost
        them (equally long, not paired)."""
        p = self.p
        now = p.partition_brokers(parts)
        before = p.original_brokers[parts]
        moved = (now >= 0) & ~(now[:, :, None] == before[:, None, :]).any(axis=2)
        left = (before >= 0) & ~(before[:, :, None] == now[:, None, :]).any(axis=2)
        return now[moved], before[left]

    def _swap_ranking(self, on: int, metric: int, largest: bool, spent: bool) -> SwapRanking:
        """The movable slots on `on` ranked by load in `metric` and by density in it; kept while no
        replica or leadership moves on or off `on`, since every broker is asked again for each partner
        it is tried with (13,000 slots a broker at 2.8M replicas)."""
        # once the budget is spent (`spent`) only moved slots may move: a heal-only plan's soft goals rank
        # those few, not all 300 of a broker. The budget comes and goes (a swap can send a moved replica
        # home), so a ranking is kept per state of the budget.
        key = (on, metric, largest, spent)
        kept = self._swap_rankings.get(key)
        if kept is not None and kept.version == self.p.version[on]:
            return kept
        if kept is None and any(k[1] != metric for k in self._swap_rankings):
            self._swap_rankings.clear()  # one goal at a time: bounded memory
        slots = self.movable_slots(on, spent)
        ranking = SwapRanking(int(self.p.version[on]), slots, *self._swap_keys(slots, metric, largest))
        self._swap_rankings[key] = ranking
        return ranking

    def _swap_keys(self, slots: np.ndarray, metric: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
        """The two ranking keys of `slots`, smallest first: the heaviest (or lightest) in `metric`, and
        the densest (or sparsest) in it for their size in all resources: a swap of a dense replica for
        a sparse one of the same size moves `metric` while the rest cancels."""
        p = self.p
        part = p.slot_partition[slots]
        leads = p.leader_slot[part] == slots
        load = np.where(leads, p.leader_vec[part, metric], p.follower_vec[part, metric])
        if self._swap_sizes is None:
            self._swap_sizes = tuple(
                (vectors[:, LOADS] / self.mean_replica[LOADS]).sum(axis=1) for vectors in (p.leader_vec, p.follower_vec)
            )
        size = np.where(leads, self._swap_sizes[0][part], self._swap_sizes[1][part])
        sign = -1.0 if largest else 1.0
        density = load / self.mean_replica[metric] / np.maximum(size, 1e-12)
        return sign * load, sign * density

    def _first_placeable(self, ranking: SwapRanking, by: int, to: int) -> np.ndarray:
        """Positions of the first SWAP_CANDIDATES of the ranking's slots in order `by` that `to` accepts,
        checked a growing chunk at a time (most are, so the first chunk usually does). The move budget
        is checked per pair (`_swap_budget_ok`): a ranking drawn while it is spent holds moved slots only."""
        found: list[np.ndarray] = []
        wanted, start, step = SWAP_CANDIDATES, 0, 2 * SWAP_CANDIDATES
        while wanted > 0 and start < len(ranking.slots):
            chunk = ranking.order(by, start + step)[start : start + step]
            some = ranking.slots[chunk]
            ok = self.acceptance.placeable(some, to)
            found.append(chunk[ok][:wanted])
            wanted -= len(found[-1])
            start, step = start + step, 2 * step
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def _best_leadership_trade(
        self, metric: int, broker: int, need: float, shed: bool
    ) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """((partition broker gives, slot of its new leader), (partition broker takes, broker's slot)) whose
        trade moves nearest `need` of `metric` the wanted way and every goal accepts; None if none.

        `broker` hands leadership of one partition to a follower and takes leadership of another
        partition from that follower's broker, so leader counts stay and the other leader loads nearly
        cancel while `metric` moves. No data moves; this is what balances leader bytes in (and nw_out,
        cpu) once earlier goals pin every single leadership move."""
        p = self.p
        slots = p.slots_on(broker)
        parts = p.slot_partition[slots]
        ok = self.movable[parts] & (p.leader_slot[parts] >= 0)
        slots, parts = slots[ok], parts[ok]
        leads = p.leader_slot[parts] == slots
        give, take = parts[leads], parts[~leads]
        take_slot, take_from = slots[~leads], p.slot_broker[p.leader_slot[parts[~leads]]]
        # every follower of a partition `broker` leads is a broker it can trade with
        followers = p.part_slots[give]
        row, col = np.nonzero((followers >= 0) & (followers != p.leader_slot[give][:, None]))
        give_slot = followers[row, col]
        give_to = p.slot_broker[give_slot]
        i, j = _matching(np.where(self.can_receive[give_to], give_to, -1), take_from)
        if not len(i):
            return None
        # on `broker`, each pair's change; pairs are filtered on `metric` alone before every goal's
        # check, which reads every column of every pair left
        take_delta, give_delta = p.leadership_delta(take), p.leadership_delta(give)
        gain = take_delta[j, metric] - give_delta[row[i], metric]
        if shed:
            gain = -gain
        keep = np.flatnonzero((gain > 0) & (give[row[i]] != take[j]))
        i, j, gain = i[keep], j[keep], gain[keep]
        partner = give_to[i]
        src, dst = (np.array([broker]), partner) if shed else (partner, np.array([broker]))
        keep = np.flatnonzero(self._band_improves(src, dst, gain))
        i, j, gain, partner = i[keep], j[keep], gain[keep], partner[keep]
        change = take_delta[j] - give_delta[row[i]]
        ok = self.acceptance.change_ok(broker, change) & self.acceptance.change_ok(partner, -change)
        if not ok.any():
            return None
        c = int(np.argmax(np.where(ok, covered(gain, need), -np.inf)))
        return (int(give[row[i[c]]]), int(give_slot[i[c]])), (int(take[j[c]]), int(take_slot[j[c]]))


class SwapMenu:
    """The acceptable swaps between two brokers found by one evaluation: candidates on each side, what
    each pair's exchange moves (`delta`), which pairs are still open (`ok`) and what each costs in MB."""

    def __init__(self, heavy: np.ndarray, light: np.ndarray, delta: np.ndarray, ok: np.ndarray, cost: np.ndarray,
                 metric: int, homecoming: bool):
        self.heavy, self.light, self.delta, self.ok, self.cost, self.metric = heavy, light, delta, ok, cost, metric
        self.homecoming = homecoming
        self.uses = 0

    def best(self, need: float) -> tuple[int, int] | None:
        """(row, column) of the open pair moving nearest `need` of the metric per MB; None if none is open."""
        value = np.where(self.ok, covered(self.delta[:, :, self.metric], need) / self.cost, -np.inf)
        i, j = np.unravel_index(int(np.argmax(value)), value.shape)
        return (int(i), int(j)) if self.ok[i, j] else None

    def taken(self, i: int, j: int) -> None:
        """Both slots of the pair moved: no pair with either is open any more."""
        self.uses += 1
        self.ok[i, :] = False
        self.ok[:, j] = False


class SwapRanking:
    """A broker's movable slots in two orders (by `keys[0]`, then `keys[1]`, smallest first, stable),
    each sorted only as far as asked: swaps look at the first few dozen of 13,000, so a linear-time
    partition finds them, and the full sort is made only when they do not suffice."""

    def __init__(self, version: int, slots: np.ndarray, *keys: np.ndarray):
        self.version = version  # the broker's `Placement.version` when ranked
        self.slots = slots
        self.keys = keys
        self.orders: list[np.ndarray | None] = [None] * len(keys)

    def replace(self, version: int, out: int, into: int, keys: tuple[np.ndarray, ...], how: str) -> None:
        """Slot `out` left the broker and `into` (with `keys`) arrived, as the broker's slot list
        changed: "here", `into` takes `out`'s position (appended, then `out` swap-removed); "last",
        the last slot takes it and `into` is appended (`out` swap-removed, then `into` appended);
        "delete", as "last" when the slot that took its place is not movable, so not ranked. The
        positions follow the broker's slot order, so stable ties break as a rebuilt ranking's."""
        at = int(np.flatnonzero(self.slots == out)[0])
        columns = []
        for column, value in zip([self.slots, *self.keys], [np.array([into]), *keys], strict=True):
            if how == "delete":
                column = np.concatenate([column[:at], column[at + 1 :], value.astype(column.dtype)])
            else:
                column = column.copy()
                if how == "last":
                    column[at] = column[-1]
                column[-1 if how == "last" else at] = value[0]
            columns.append(column)
        self.slots, self.keys = columns[0], tuple(columns[1:])
        self.version = version
        self.orders = [None] * len(self.keys)

    def order(self, by: int, length: int) -> np.ndarray:
        """The first `length` (or more) positions of np.argsort(keys[by], kind="stable")."""
        known = self.orders[by]
        if known is None or (len(known) < length and len(known) < len(self.slots)):
            known = self.orders[by] = _leading(self.keys[by], max(length, 4 * SWAP_CANDIDATES))
        return known


def _leading(keys: np.ndarray, k: int) -> np.ndarray:
    """The start of np.argsort(keys, kind="stable") up to the k-th smallest key and every key tied with
    it, in linear time plus a sort of that start."""
    if len(keys) <= k:
        return np.argsort(keys, kind="stable")
    kth = np.partition(keys, k - 1)[k - 1]
    if np.isnan(kth):
        return np.argsort(keys, kind="stable")
    head = np.flatnonzero(keys <= kth)
    return head[np.argsort(keys[head], kind="stable")]


def _matching(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every pair with left[i] == right[j] >= 0, ordered by i then j: np.nonzero of the
    equality matrix, without building it (a broker's leaderships times its followerships)."""
    order = np.argsort(right, kind="stable")
    ordered = right[order]
    first = np.searchsorted(ordered, left, side="left")
    count = np.where(left >= 0, np.searchsorted(ordered, left, side="right") - first, 0)
    i = np.repeat(np.arange(len(left)), count)
    return i, order[np.arange(len(i)) - np.repeat(np.cumsum(count) - count - first, count)]
