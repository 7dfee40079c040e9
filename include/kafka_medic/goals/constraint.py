"""What an accepted goal asks of every later move: Cruise Control's actionAcceptance, asked of many
candidate moves at once.

Once a goal is optimized, the goals after it may only make moves that do not make it worse. Each goal
names the `Constraint` class that says so (`Goal.constraint`); the goals of one family share one
object, to which each adds its limits, so that one vector operation answers for all of them (every
bounded goal adds a column of per-broker headroom to one matrix). The planner's `Acceptance` asks each
constraint accepted so far about each kind of candidate move and combines the answers; it asks only
the methods a constraint overrides, so a constraint that does not limit a kind of move costs nothing
there.

Candidate moves come in these kinds, each asked for many candidates at once:
  - placement (whatever the load): may a broker hold a replica of a partition instead of the broker
    holding it now (`homes`: one replica, every broker; `placeable`: many replicas, one broker);
  - load: may a replica's metric vector leave its broker and arrive at another (`destinations`,
    `fits`), may brokers take a net change (`change_ok`, for swaps and leadership trades), and within
    which box may a swap partner's load lie (`room`). A broker's room to give may only shrink as it
    gives, and to take as it takes (true of any limit on per-broker totals): a broker shedding or
    filling asks once which candidates may move at all, and asks no more about those refused then;
  - leadership: may leadership pass between brokers (`leadership_ok`), or not at all
    (`leadership_fixed`).

A constraint may also say how much of a metric it forces onto a set of brokers whatever the plan
(`forced_loads`): rack awareness makes each rack hold a replica of every partition with as many
replicas as racks, so a bounded goal can learn that its band cannot hold on a rack before it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, NamedTuple, TypeVar

import numpy as np

from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.goals.base import Goal

GoalT = TypeVar("GoalT", bound="Goal")


class ForcedLoad(NamedTuple):
    """What a constraint makes a set of brokers hold of one metric, whatever the plan."""

    name: str  # the set, for a person: "the rack of brokers 3, 6, 9"
    brokers: np.ndarray  # indices of the set's brokers that keep data
    least: float  # the set holds at least this much
    most: float  # and at most this much


class Constraint(Generic[GoalT]):
    """Generic in the goals it takes on (`add`): a family's constraint reads its own goals' limits."""

    # whether a replica's placeability depends on where the other replicas of its topic are: then a
    # move makes what was asked about the topic's other replicas stale, not only its partition's
    couples_topic: ClassVar[bool] = False
    # set once no later goal may move leadership at all
    leadership_fixed: bool = False
    # whether `leadership_fixed` asks only that each leader be its partition's first replica: a step that
    # makes every new leader first may still move leadership (`Acceptance.leadership_ok`)
    kept_by_leader_first: ClassVar[bool] = False

    def __init__(self, placement: Placement, can_receive: np.ndarray):
        self.placement = placement
        self.can_receive = can_receive

    def add(self, goal: GoalT) -> None:
        """Take on the limits of `goal`, accepted from now on (while it is optimized, too)."""

    def relax(self, goal: GoalT) -> None:
        """`goal`, about to be optimized, cannot hold (`Goal.infeasible`): from now on accept the moves
        that do not make it worse, rather than only those that keep every limit, which no move may
        then keep. By default the usual rule stays."""

    def optimized(self, goal: GoalT) -> None:
        """`goal`'s own optimize step is done: what it asks of the goals after it may now change."""

    def refresh(self, brokers) -> None:
        """The metrics of `brokers` changed (a move touched them)."""

    def forced_loads(self, metric: int) -> list[ForcedLoad]:
        """The broker sets this constraint makes hold at least or at most some amount of `metric`
        whatever the plan; none by default."""
        return []

    # ---- placement, whatever the load -----------------------------------------------------------

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        """(B,) brokers that may hold a replica of partition `part` (held by brokers `holders`) instead
        of broker `src`. `strict`: the move must leave the partition within the limits, not merely
        no worse than before (for the goal's own optimize step)."""
        raise NotImplementedError

    def placeable(
        self,
        slots: np.ndarray,
        src: np.ndarray,
        parts: np.ndarray,
        holders: np.ndarray,
        dst: int,
        topic_counts: np.ndarray | None,
    ) -> np.ndarray:
        """(n,) whether broker `dst` may hold a replica of each of `parts` instead of `src` (rows of
        `holders`: the brokers of each partition, -1 padded). `topic_counts`: replicas per broker of
        the slots' topic, when every slot is of one topic."""
        raise NotImplementedError

    # ---- load ------------------------------------------------------------------------------------

    def destinations(self, vector: np.ndarray, src: int) -> np.ndarray | None:
        """(B,) brokers that may receive metric vector `vector` from broker `src` (all False if `src`
        may not lose it), or None when the move limits no broker."""
        raise NotImplementedError

    def fits(self, vectors: np.ndarray, src: np.ndarray, dst) -> np.ndarray:
        """(n,) whether load `vectors[i]` may move from broker `src[i]` to `dst` (one, or one per row)."""
        raise NotImplementedError

    def change_ok(self, brokers, change: np.ndarray) -> np.ndarray:
        """Whether adding `change` (..., METRICS; negative takes load away) to `brokers` (one, or one
        per row) is accepted: the check for swaps, where both brokers give and take."""
        raise NotImplementedError

    def room(self, broker: int, down: np.ndarray, up: np.ndarray) -> None:
        """Narrow `down` and `up` (METRICS,) in place to how far each metric may fall and grow on
        `broker`: the box a swap partner's load must lie in."""
        raise NotImplementedError

    # ---- leadership ------------------------------------------------------------------------------

    def leadership_ok(self, delta: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """(n,) whether leadership may pass from brokers `old` to brokers `new`, adding `delta` to
        `new` and taking it from `old`."""
        raise NotImplementedError
