"""A network namespace joined to this one by a veth pair: a broker run inside it can be cut off from every
other node and client (its link taken down) and joined again, as a network partition does.

There is no iptables, nft or tc qdisc on the machines this runs on, and a loopback port cannot be
blocked for one process alone (its outgoing connections share the others' source address), so the
broker gets a namespace and a link of its own; `DevCluster(host=..., netns=...)` starts it there.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Namespace:
    name: str
    link: str  # this side of the veth pair: down is the partition
    host_address: str  # this side's address: every other node listens on it
    address: str  # the address inside the namespace, for the broker there

    def partition(self) -> None:
        _ip("link", "set", self.link, "down")

    def heal(self) -> None:
        _ip("link", "set", self.link, "up")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@contextmanager
def namespace() -> Iterator[Namespace]:
    """A namespace and a /24 named after this process, so test sessions side by side do not meet."""
    pid = os.getpid()
    name, link, peer = f"kmf{pid}", f"kmf{pid}h", f"kmf{pid}n"
    subnet = f"10.{200 + pid % 50}.{pid // 50 % 250}"
    ns = Namespace(name, link, f"{subnet}.1", f"{subnet}.2")
    _ip("netns", "add", name)
    try:
        _ip("link", "add", link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", name)
        _ip("addr", "add", f"{ns.host_address}/24", "dev", link)
        _ip("-n", name, "addr", "add", f"{ns.address}/24", "dev", peer)
        for args in (["link", "set", link, "up"], ["-n", name, "link", "set", peer, "up"],
                     ["-n", name, "link", "set", "lo", "up"]):
            _ip(*args)
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=30)
        _ip("netns", "del", name)
