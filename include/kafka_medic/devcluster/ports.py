"""Which loopback ports a dev cluster's nodes listen on, and whether a port is free or serving.

A fixed base port gives the default cluster addresses people can remember and put in configs:
    brokers       base + (id - 1)          19092, 19093, ...
    controllers   base + 100 + k           19192, ...   (ZooKeeper mode: the ZooKeeper node)
    SASL listener base + 200 + (id - 1)    19292, ...   (only with SASL users)
    JMX exporter  base + 300 + (id - 1)    19392, ...
`base_port=0` asks the OS for free ports instead, so test sessions can run side by side.
"""

from __future__ import annotations

import errno
import socket
from contextlib import ExitStack

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 19092
MAX_BROKERS = 100  # keeps the fixed layout's blocks from overlapping
CONTROLLER_OFFSET = 100
SASL_OFFSET = 200
JMX_OFFSET = 300


def plan_ports(base_port: int, brokers: int, servers: int, sasl: bool = False) -> dict[str, list[int]]:
    """Ports for `brokers` brokers, their JMX exporters and (with `sasl`) SASL listeners, and for
    `servers` controllers/ZooKeeper nodes."""
    counts = {"brokers": brokers, "jmx": brokers, "sasl": brokers if sasl else 0, "servers": servers}
    if base_port == 0:
        free = iter(free_ports(sum(counts.values())))
        return {kind: [next(free) for _ in range(count)] for kind, count in counts.items()}
    offsets = {"brokers": 0, "jmx": JMX_OFFSET, "sasl": SASL_OFFSET, "servers": CONTROLLER_OFFSET}
    return {kind: [base_port + offsets[kind] + i for i in range(count)] for kind, count in counts.items()}


def free_ports(count: int) -> list[int]:
    """Distinct ports the OS reports free; all held open together so none is handed out twice."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


def port_taken(port: int, host: str = HOST) -> bool:
    """True if something listens on host:port (TIME_WAIT leftovers do not count, as for Kafka). An
    address of another network namespace (a broker's own) cannot be bound here: there, taken is accepting."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL or port_accepting(port, host)
    return False


def port_accepting(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
