"""A dev cluster's persisted shape (nodes, ports, pids, version) and where its files live.

Everything a later process needs to find, inspect or stop the cluster is in `<home>/state.json`,
so `kafka-medic dev-cluster down` works from any shell, not only from the one that ran `up`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kafka_medic.devcluster.ports import HOST
from kafka_medic.errors import MedicError

STATE_VERSION = 1


def default_home(name: str) -> Path:
    """`$KAFKA_MEDIC_HOME/devcluster/<name>`, with KAFKA_MEDIC_HOME defaulting to ~/.local/state/kafka-medic."""
    base = os.environ.get("KAFKA_MEDIC_HOME") or Path.home() / ".local" / "state" / "kafka-medic"
    return Path(base) / "devcluster" / name


@dataclass
class Node:
    """One JVM of the cluster: a broker, a KRaft controller or the ZooKeeper server."""

    name: str  # "broker-1", "controller-1000", "zookeeper": also its file and directory name
    role: str  # "broker" | "controller" | "zookeeper"
    node_id: int | None
    port: int
    jmx_port: int | None = None
    sasl_port: int | None = None  # a second client listener, SASL_PLAINTEXT, when the cluster has SASL users
    rack: str | None = None
    pid: int | None = None
    pid_started: float | None = None  # process create time: tells our JVM from a reused pid
    host: str = HOST  # the address it listens on and advertises
    netns: str | None = None  # the network namespace it runs in (`ip netns`): a broker to cut off by its own link

    @property
    def ports(self) -> list[int]:
        """Every port the node listens on."""
        return [p for p in (self.port, self.jmx_port, self.sasl_port) if p is not None]


@dataclass
class ClusterState:
    name: str
    mode: str  # "kraft" | "zk"
    version: str
    cluster_id: str
    libs: str  # directory whose jars form the classpath
    jmx_agent: str
    nodes: list[Node] = field(default_factory=list)
    base_port: int = 0  # 0: ports were picked free, as a broker added later gets them
    broker_config: dict[str, object] = field(default_factory=dict)  # overrides in every broker's properties
    log_dirs: int = 1  # per broker; more than one is JBOD, whose disks fail one at a time
    # user -> password for each broker's SASL listener, PLAIN and (KRaft) SCRAM-SHA-512 (test accounts)
    sasl_users: dict[str, str] = field(default_factory=dict)

    @property
    def brokers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "broker"]

    @property
    def broker_ids(self) -> list[int]:
        """The brokers' ids: every broker has one (only the ZooKeeper server has none)."""
        ids = [n.node_id for n in self.brokers if n.node_id is not None]
        if len(ids) < len(self.brokers):
            raise MedicError(f"dev-cluster {self.name!r} has a broker without an id in its state")
        return ids

    @property
    def servers(self) -> list[Node]:
        """The nodes brokers depend on: KRaft controllers or the ZooKeeper server."""
        return [n for n in self.nodes if n.role != "broker"]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{n.host}:{n.port}" for n in self.brokers)

    @property
    def sasl_bootstrap(self) -> str | None:
        """The SASL listeners' addresses, None when the cluster has no SASL users."""
        return ",".join(f"{n.host}:{n.sasl_port}" for n in self.brokers) if self.sasl_users else None

    def broker(self, broker_id: int) -> Node:
        for node in self.brokers:
            if node.node_id == broker_id:
                return node
        valid = ", ".join(str(n.node_id) for n in self.brokers)
        raise MedicError(f"no broker {broker_id} in dev-cluster {self.name!r}; valid broker ids: {valid}")


class Layout:
    """Paths under a cluster's home: config/, data/ (deleted by down), logs/ (kept for post-mortems)."""

    def __init__(self, home: Path):
        self.home = home
        self.state_file = home / "state.json"
        self.lock_file = home / ".lock"
        self.config_dir = home / "config"
        self.data_root = home / "data"
        self.logs_root = home / "logs"
        self.log4j_config = self.config_dir / "log4j2.properties"
        self.jmx_config = self.config_dir / "jmx-exporter.yaml"

    def config(self, node: Node) -> Path:
        return self.config_dir / f"{node.name}.properties"

    def data(self, node: Node) -> Path:
        return self.data_root / node.name

    def disks(self, node: Node, count: int) -> list[Path]:
        """A broker's log dirs: its data dir itself, or one subdirectory per disk (JBOD)."""
        return [self.data(node)] if count == 1 else [self.data(node) / f"disk{i}" for i in range(count)]

    def log_dir(self, node: Node) -> Path:
        return self.logs_root / node.name

    def server_log(self, node: Node) -> Path:
        return self.log_dir(node) / "server.log"

    def stdout_log(self, node: Node) -> Path:
        """The JVM's own stdout/stderr: crashes, agent errors, anything before log4j is up."""
        return self.log_dir(node) / "stdout.log"


def save_state(layout: Layout, state: ClusterState) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    layout.home.mkdir(parents=True, exist_ok=True)
    tmp = layout.state_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"state_version": STATE_VERSION, **asdict(state)}, indent=2) + "\n")
    tmp.replace(layout.state_file)


def load_state(layout: Layout) -> ClusterState | None:
    try:
        raw = json.loads(layout.state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MedicError(f"cannot read {layout.state_file}: {exc}") from exc
    if raw.pop("state_version", None) != STATE_VERSION:
        raise MedicError(f"{layout.state_file} was written by another kafka-medic version; delete it")
    raw["nodes"] = [Node(**n) for n in raw["nodes"]]
    return ClusterState(**raw)


def delete_state(layout: Layout) -> None:
    layout.state_file.unlink(missing_ok=True)
