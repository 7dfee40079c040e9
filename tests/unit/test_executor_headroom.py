"""Auto throttle: rates from capacity minus measured traffic, recomputed without counting our own copying."""

from __future__ import annotations

from kafka_medic.capacity import parse_capacities
from kafka_medic.executor.headroom import KB, MB, Traffic, changed_rates, describe_change, headroom_rates

CAPACITIES = parse_capacities({"default": {"disk": 1, "nw_in": 10000, "nw_out": 5000, "cpu": 100}}, "test")
ROOM_OUT, ROOM_IN = 5000 * KB * 0.8, 10000 * KB * 0.8


def test_headroom_subtracts_client_and_replication_traffic_with_a_floor():
    traffic = {1: Traffic(1.5 * MB, 0.5 * MB, 0.5 * MB, 0.5 * MB), 2: Traffic(8000 * KB, 0.0, 1000 * KB, 0.0)}
    rates = headroom_rates(CAPACITIES, traffic, fraction=0.8)
    assert rates[1] == (int(ROOM_OUT - 1 * MB), int(ROOM_IN - 2 * MB))
    assert rates[2] == (int(ROOM_OUT), MB)  # no inbound room left: the 1 MB/s floor


def test_our_own_copying_is_not_counted_against_the_headroom_but_clients_always_are():
    # Broker 1 copies in at its 3 MB/s follower throttle; other followers' replication adds 0.5 MB/s.
    traffic = {1: Traffic(2 * MB, 0.0, 3.5 * MB, 0.0)}
    first = headroom_rates(CAPACITIES, traffic, fraction=0.8)
    again = headroom_rates(CAPACITIES, traffic, fraction=0.8, ours={1: (0, 3 * MB)})
    assert first[1][1] == int(ROOM_IN - 5.5 * MB)
    assert again[1][1] == int(ROOM_IN - 2.5 * MB)  # the same traffic, without its own 3 MB/s
    # Claiming more than the replication measured never eats into the clients' share.
    greedy = headroom_rates(CAPACITIES, traffic, fraction=0.8, ours={1: (0, 50 * MB)})
    assert greedy[1][1] == int(ROOM_IN - 2 * MB)


def test_only_rates_that_change_by_more_than_a_tenth_are_reapplied():
    current = {1: (10 * MB, 10 * MB), 2: (10 * MB, 10 * MB), 3: (10 * MB, 10 * MB)}
    new = {1: (int(10.9 * MB), 10 * MB), 2: (10 * MB, int(8.5 * MB)), 3: (10 * MB, 10 * MB), 4: (MB, MB)}
    assert changed_rates(current, new) == {2: (10 * MB, int(8.5 * MB)), 4: (MB, MB)}


def test_a_change_is_logged_with_the_traffic_that_decided_it():
    line = describe_change(3, (2 * MB, 3 * MB), (2 * MB, int(2.5 * MB)), Traffic(0.5 * MB, 0.25 * MB, 3 * MB, 0.0))
    assert line == ("throttle: broker 3 leader/follower 2.0/3.0 -> 2.0/2.5 MB/s "
                    "(in/out MB/s: clients 0.50/0.25, replication 3.00/0.00)")
