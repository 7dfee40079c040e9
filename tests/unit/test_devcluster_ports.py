"""Port layout of dev clusters: a memorable fixed block, or free ports for parallel test sessions."""

from __future__ import annotations

import socket

from kafka_medic.devcluster.ports import HOST, free_ports, plan_ports, port_accepting, port_taken


def test_fixed_layout_is_brokers_then_controllers_plus_100_then_sasl_plus_200_then_jmx_plus_300():
    assert plan_ports(19092, brokers=4, servers=1) == {
        "brokers": [19092, 19093, 19094, 19095],
        "jmx": [19392, 19393, 19394, 19395],
        "sasl": [],
        "servers": [19192],
    }
    assert plan_ports(19092, brokers=2, servers=1, sasl=True)["sasl"] == [19292, 19293]


def test_base_port_zero_gives_distinct_free_ports():
    ports = plan_ports(0, brokers=4, servers=3, sasl=True)
    flat = ports["brokers"] + ports["jmx"] + ports["sasl"] + ports["servers"]
    assert [len(ports[kind]) for kind in ("brokers", "jmx", "sasl", "servers")] == [4, 4, 4, 3]
    assert len(set(flat)) == len(flat)
    assert not any(port_taken(p) for p in flat)


def test_a_listening_port_is_taken_and_accepting_until_closed():
    [port] = free_ports(1)
    listener = socket.socket()
    listener.bind((HOST, port))
    listener.listen()
    try:
        assert port_taken(port)
        assert port_accepting(port)
    finally:
        listener.close()
    assert not port_taken(port)
    assert not port_accepting(port)
