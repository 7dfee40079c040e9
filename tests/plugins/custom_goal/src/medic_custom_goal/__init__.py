"""A hard goal from outside kafka-medic: broker 1 holds no replicas (say, its disks are to be swapped).

Its optimize step moves every replica off broker 1; its constraint keeps every later goal from putting
one back, so the replica-count goals, which would fill broker 1 up to its share, leave it empty.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals import Constraint, Goal, GoalResult

BROKER_ID = 1


class KeepOffBroker1(Constraint):
    """No move puts a replica on broker 1."""

    def __init__(self, placement, can_receive):
        super().__init__(placement, can_receive)
        self.allowed = placement.arrays.broker_ids != BROKER_ID  # (B,)

    def homes(self, part, src, holders, strict):
        return self.allowed

    def placeable(self, slots, src, parts, holders, dst, topic_counts):
        return np.full(len(slots), self.allowed[dst])


class NoReplicasOnBroker1(Goal):
    name, hard = "no_replicas_on_broker_1", True
    constraint = KeepOffBroker1

    def check(self, placement):
        """Violation: the number of replicas on broker 1."""
        held = sum(len(placement.slots_on(b)) for b in np.flatnonzero(placement.arrays.broker_ids == BROKER_ID))
        detail = f"broker {BROKER_ID} holds {held} replicas" if held else ""
        brokers = [BROKER_ID] if held else []
        return GoalResult(self.name, self.hard, held == 0, float(held), brokers=brokers, detail=detail)

    def optimize(self, search):
        for broker in np.flatnonzero(search.p.arrays.broker_ids == BROKER_ID):
            for slot in search.movable_slots(int(broker)):
                search.move_anywhere(int(slot))
