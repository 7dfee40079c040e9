"""`DevCluster`: a real local Kafka cluster (KRaft or ZooKeeper mode) made of plain JVM processes.

Used by the demo and by the integration tests, so it favours "fails loudly and cleans up after
itself" over speed: a node that dies or never becomes ready stops the whole start-up, the error
carries that node's log tail, and nothing it started is left running.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from kafka_medic.devcluster import artifacts
from kafka_medic.devcluster.configs import (
    SESSION_TIMEOUT_MS,
    format_command,
    java_command,
    write_configs,
    write_node_config,
)
from kafka_medic.devcluster.locks import file_lock
from kafka_medic.devcluster.ports import (
    DEFAULT_BASE_PORT,
    HOST,
    MAX_BROKERS,
    plan_ports,
    port_accepting,
    port_taken,
)
from kafka_medic.devcluster.probes import registered_brokers, replicas_on, wait_for_stale_registration
from kafka_medic.devcluster.processes import (
    find_process,
    java_executable,
    kill,
    processes_mentioning,
    spawn,
    started_at,
    stop,
)
from kafka_medic.devcluster.state import (
    ClusterState,
    Layout,
    Node,
    default_home,
    delete_state,
    load_state,
    save_state,
)
from kafka_medic.devcluster.unregister import unregister_broker
from kafka_medic.errors import MedicError

log = logging.getLogger(__name__)

MODES = ("kraft", "zk")
FIRST_CONTROLLER_ID = 1000  # broker ids are 1..N; controller ids must not clash with them
MAX_LOG_DIRS = 4
READY_TIMEOUT_S = 120.0  # generous: 5-6 JVMs starting at once on 2 busy cores
LOG_TAIL_LINES = 30
UP_HINT = "run `kafka-medic dev-cluster up`"


class _Shape(TypedDict):
    """The shape `up()` gives a new cluster (ignored when one with this home already runs)."""

    brokers: int
    racks: int
    controllers: int
    mode: str
    log_dirs: int


class DevCluster:
    """A named local cluster whose state lives in `home` (default `$KAFKA_MEDIC_HOME/devcluster/<name>`).

    The constructor only describes the cluster; `up()` starts it. The state file is the one source
    of truth and is re-read by every call, because another process (the CLI, a test's other
    DevCluster object) may have killed or restarted a node meanwhile. Shape arguments are ignored
    when a cluster with this home is already running.

    Every node listens on `host` (loopback by default); a broker named in `netns` (id -> (namespace,
    address)) runs inside that existing network namespace (`ip netns`) on that address instead, so a test
    can cut it off from the others by taking its link down, as a network partition does.
    """

    def __init__(
        self,
        name: str = "dev",
        home: str | Path | None = None,
        brokers: int = 4,
        racks: int = 2,
        controllers: int = 1,
        mode: str = "kraft",
        version: str | None = None,
        base_port: int = DEFAULT_BASE_PORT,
        broker_config: dict[str, object] | None = None,
        log_dirs: int = 1,
        sasl_users: dict[str, str] | None = None,
        host: str = HOST,
        netns: dict[int, tuple[str, str]] | None = None,
    ):
        if mode not in MODES:
            raise MedicError(f"unknown dev-cluster mode {mode!r}; valid modes: {', '.join(MODES)}")
        if not 1 <= brokers <= MAX_BROKERS:
            raise MedicError(f"--brokers must be between 1 and {MAX_BROKERS}, not {brokers}")
        if not 1 <= racks <= brokers:
            raise MedicError(f"--racks must be between 1 and the broker count {brokers}, not {racks}")
        if not 1 <= log_dirs <= MAX_LOG_DIRS:
            raise MedicError(f"--log-dirs must be between 1 and {MAX_LOG_DIRS}, not {log_dirs}")
        for user, password in (sasl_users or {}).items():
            if not user or not password or any(c in user + password for c in '"\\ \t\n;=,[]'):
                raise MedicError(f"SASL user {user!r}: user and password must be non-empty, without quotes, "
                                 "backslashes, spaces or any of ;=,[]")
        if controllers not in (1, 3, 5):
            raise MedicError(f"--controllers must be 1, 3 or 5 (a majority quorum), not {controllers}")
        version = version or (artifacts.KRAFT_VERSION if mode == "kraft" else artifacts.ZOOKEEPER_MODE_VERSION)
        if mode == "zk" and int(version.split(".")[0]) >= 4:
            raise MedicError(
                f"Kafka {version} has no ZooKeeper mode (removed in 4.0); "
                f"use a 3.x version such as {artifacts.ZOOKEEPER_MODE_VERSION}"
            )
        self.name = name
        self.layout = Layout(Path(home) if home is not None else default_home(name))
        self._shape: _Shape = {"brokers": brokers, "racks": racks, "controllers": controllers, "mode": mode,
                               "log_dirs": log_dirs}
        self._version = version
        self._base_port = base_port
        self._broker_config = broker_config
        self._sasl_users = dict(sasl_users or {})
        self._host = host  # every node's address, but for brokers in `netns`: id -> (namespace, address there)
        self._netns = dict(netns or {})
        self._children: dict[str, subprocess.Popen] = {}  # kept so our own children get reaped

    @classmethod
    def load(cls, name: str = "dev", home: str | Path | None = None) -> DevCluster:
        """The cluster that `up()` started (in this or another process); MedicError if there is none."""
        cluster = cls(name=name, home=home)
        _ = cluster.state  # raises, with the "run up" hint, when nothing is running
        return cluster

    # -- facts about the cluster ---------------------------------------------------------------

    @property
    def home(self) -> Path:
        return self.layout.home

    @property
    def state(self) -> ClusterState:
        state = load_state(self.layout)
        if state is None:
            raise MedicError(f"no dev-cluster {self.name!r} is running (no state in {self.home}); {UP_HINT}")
        return state

    @property
    def bootstrap(self) -> str:
        return self.state.bootstrap

    @property
    def sasl_bootstrap(self) -> str | None:
        return self.state.sasl_bootstrap

    @property
    def broker_ids(self) -> list[int]:
        return self.state.broker_ids

    @property
    def zookeeper_connect(self) -> str | None:
        return _zookeeper_connect(self.state)

    def jmx_url(self, broker_id: int) -> str:
        return _jmx_url(self.state.broker(broker_id))

    def log_path(self, broker_id: int) -> Path:
        return self.layout.server_log(self.state.broker(broker_id))

    def status(self) -> dict[str, Any]:
        """What is running now; a node is alive when its process runs and its port accepts."""
        state = self.state
        brokers = [{**self._node_status(n), "rack": n.rack, "jmx_url": _jmx_url(n)} for n in state.brokers]
        servers = [self._node_status(n) for n in state.servers]
        return {
            "name": state.name,
            "mode": state.mode,
            "version": state.version,
            "cluster_id": state.cluster_id,
            "home": str(self.home),
            "bootstrap": state.bootstrap,
            "zookeeper_connect": _zookeeper_connect(state),
            "brokers": brokers,
            "controllers": servers if state.mode == "kraft" else [],
            "zookeeper": servers[0] if state.mode == "zk" else None,
        }

    def _node_status(self, node: Node) -> dict[str, Any]:
        proc = find_process(node.pid, node.pid_started)
        return {
            "id": node.node_id,
            "alive": proc is not None and port_accepting(node.port, node.host),
            "port": node.port,
            "pid": proc.pid if proc else None,
            "log": str(self.layout.server_log(node)),
        }

    # -- lifecycle ------------------------------------------------------------------------------

    def up(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """Start the cluster and wait until every broker is registered and serving.

        Returns False if it was already running (dead nodes of it are restarted). On any failure
        everything started is stopped again and a MedicError carries the failing node's log tail.
        """
        with file_lock(self.layout.lock_file):
            state = load_state(self.layout)
            if state is not None:
                if any(_process(n) for n in state.nodes):
                    log.info("dev-cluster %r is already running: %s", state.name, _describe(state))
                    self._restart_dead(state, timeout_s)
                    return False
                log.info("dev-cluster %r: found state of a stopped cluster, cleaning it up", self.name)
                self._teardown(state)
            began = time.monotonic()
            state = self._plan()
            try:
                self._launch(state, timeout_s)
            except BaseException:  # Ctrl-C included: never leave half a cluster running
                self._teardown(state)
                raise
        log.info(
            "dev-cluster %r is up in %.1f s: %s, bootstrap %s",
            self.name, time.monotonic() - began, _describe(state), state.bootstrap,
        )  # fmt: skip
        return True

    def down(self) -> bool:
        """Stop every process of the cluster, wait until their ports are free, delete the data.

        Logs and configs stay for post-mortems. Returns False if nothing was running.
        """
        with file_lock(self.layout.lock_file):
            state = load_state(self.layout)
            was_running = state is not None or bool(self._strays())
            self._teardown(state)
        return was_running

    def kill_broker(self, broker_id: int) -> None:
        """SIGKILL one broker (a crash, not a clean shutdown) and return once it is gone."""
        with file_lock(self.layout.lock_file):
            proc = _process(self.state.broker(broker_id))
            if proc is None:
                log.info("broker %d is not running", broker_id)
                return
            kill([proc])
            self._wait_ports_free([self.state.broker(broker_id)])
        log.info("broker %d (pid %d) killed", broker_id, proc.pid)

    def start_broker(self, broker_id: int, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Start a stopped broker again on its old data dir and wait until the cluster lists it."""
        with file_lock(self.layout.lock_file):
            state = self.state
            node = state.broker(broker_id)
            if _process(node) is not None:
                log.info("broker %d is already running", broker_id)
                return
            self._wait_ports_free([node])  # killed by someone else just now: its sockets may linger
            zookeeper = _zookeeper_connect(state)  # None in KRaft mode
            if zookeeper is not None:
                wait_for_stale_registration(zookeeper, broker_id, 5 * SESSION_TIMEOUT_MS / 1000)
            self._spawn(state, node)
            try:
                self._wait_ready(state, [node], timeout_s)
            except BaseException:
                self._stop_nodes([node], grace_s=0)
                raise
        log.info("broker %d is back", broker_id)

    def add_broker(self, rack: str | None = None, timeout_s: float = READY_TIMEOUT_S) -> int:
        """Start a new, empty broker with the next id and wait until the cluster lists it, as an operator
        adds a machine; returns its id. It holds nothing until a plan (add_brokers) moves replicas onto it.
        Its rack is `rack`, else the existing rack with the fewest brokers."""
        with file_lock(self.layout.lock_file):
            state = self.state
            broker_id = max(state.broker_ids) + 1
            if broker_id > MAX_BROKERS:
                raise MedicError(f"dev-cluster {self.name!r} is at broker id {MAX_BROKERS}, the highest it allows")
            node = _new_broker(state, broker_id, rack or _least_used_rack(state))
            for taken in [p for p in node.ports if port_taken(p, node.host)]:
                raise MedicError(f"port {taken} for {node.name} is already in use; stop what holds it")
            shutil.rmtree(self.layout.data(node), ignore_errors=True)  # left by a removed broker of that id
            state.nodes.append(node)
            write_node_config(state, node, self.layout)
            save_state(self.layout, state)
            try:
                if state.mode == "kraft":
                    self._format_storage(state, [node])
                self._spawn(state, node)
                self._wait_ready(state, [node], timeout_s)
            except BaseException:
                self._stop_nodes([node], grace_s=0)
                state.nodes.remove(node)
                save_state(self.layout, state)
                raise
        log.info("broker %d (rack %s) added: bootstrap %s", broker_id, node.rack, state.bootstrap)
        return broker_id

    def remove_broker(self, broker_id: int) -> None:
        """Stop a broker for good and take it out of the cluster, as an operator retires a machine.

        Refused while it holds replicas: decommission it first, or its partitions lose a replica for
        good. KRaft keeps a stopped broker registered (fenced, so reported dead) until it is
        unregistered, which this does; ZooKeeper forgets a broker when its session ends.
        """
        with file_lock(self.layout.lock_file):
            state = self.state
            node = state.broker(broker_id)
            if len(state.brokers) == 1:
                raise MedicError(f"broker {broker_id} is the last one; `kafka-medic dev-cluster down` stops all")
            held = replicas_on(state.bootstrap, broker_id)
            if held:
                raise MedicError(
                    f"broker {broker_id} still holds {len(held)} replicas ({', '.join(held[:3])}"
                    f"{', ...' if len(held) > 3 else ''}); decommission it first (the decommission DAG, or "
                    f"`kafka-medic plan --decommission {broker_id} -o FILE` and `kafka-medic execute --proposal FILE`)"
                )
            self._stop_nodes([node], grace_s=10)
            self._wait_ports_free([node])
            state.nodes.remove(node)
            save_state(self.layout, state)
            if state.mode == "kraft":
                unregister_broker(state, broker_id, self.layout.config_dir)
            shutil.rmtree(self.layout.data(node), ignore_errors=True)
            self.layout.config(node).unlink(missing_ok=True)
        log.info("broker %d removed: bootstrap %s", broker_id, state.bootstrap)

    def fail_disk(self, broker_id: int, disk: int = 0) -> Path:
        """Make one log dir of a JBOD broker fail, as a dead disk would: the directory is replaced by a
        file, so the broker's next write there (a checkpoint within seconds) fails and it takes the
        dir offline while it keeps serving from its other disks. Returns the failed path."""
        state = self.state
        node = state.broker(broker_id)
        if state.log_dirs < 2:
            raise MedicError(f"broker {broker_id} has one log dir: a disk failure would stop it; start the "
                             "cluster with --log-dirs 2 or more to fail one disk of several")
        disks = self.layout.disks(node, state.log_dirs)
        if not 0 <= disk < len(disks):
            raise MedicError(f"--disk must be between 0 and {len(disks) - 1}, not {disk}")
        path = disks[disk]
        if path.is_dir():
            shutil.rmtree(path)
            path.write_text("a failed disk (kafka-medic dev-cluster fail-disk)\n")
        log.info("broker %d: log dir %s failed", broker_id, path)
        return path

    # -- internals ------------------------------------------------------------------------------

    def _plan(self) -> ClusterState:
        """Fetch the jars and decide ids, racks and ports for a new cluster."""
        shape = self._shape
        libs = artifacts.kafka_libs(self._version)
        agent = artifacts.jmx_exporter_jar()
        servers = 1 if shape["mode"] == "zk" else shape["controllers"]
        ports = plan_ports(self._base_port, shape["brokers"], servers, sasl=bool(self._sasl_users))
        if shape["mode"] == "zk":
            nodes = [Node("zookeeper", "zookeeper", None, ports["servers"][0], host=self._host)]
        else:
            nodes = [
                Node(f"controller-{FIRST_CONTROLLER_ID + k}", "controller", FIRST_CONTROLLER_ID + k, port,
                     host=self._host)
                for k, port in enumerate(ports["servers"])
            ]
        for i, (port, jmx_port) in enumerate(zip(ports["brokers"], ports["jmx"], strict=True)):
            rack = f"r{i % shape['racks'] + 1}"
            sasl_port = ports["sasl"][i] if ports["sasl"] else None
            netns, host = self._netns.get(i + 1, (None, self._host))
            nodes.append(Node(f"broker-{i + 1}", "broker", i + 1, port, jmx_port=jmx_port, sasl_port=sasl_port,
                              rack=rack, host=host, netns=netns))
        return ClusterState(
            name=self.name,
            mode=shape["mode"],
            version=self._version,
            cluster_id=_new_cluster_id(),
            libs=str(libs),
            jmx_agent=str(agent),
            nodes=nodes,
            base_port=self._base_port,
            broker_config=dict(self._broker_config or {}),
            log_dirs=shape["log_dirs"],
            sasl_users=self._sasl_users,
        )

    def _launch(self, state: ClusterState, timeout_s: float) -> None:
        log.info("starting dev-cluster %r: %s", self.name, _describe(state))
        for node in state.nodes:
            for port in node.ports:
                if port_taken(port, node.host):
                    raise MedicError(
                        f"port {port} for {node.name} is already in use; stop what holds it "
                        f"or choose another --base-port (0 picks free ports)"
                    )
        shutil.rmtree(self.layout.data_root, ignore_errors=True)
        shutil.rmtree(self.layout.logs_root, ignore_errors=True)
        write_configs(state, self.layout)
        save_state(self.layout, state)
        if state.mode == "kraft":
            self._format_storage(state, state.nodes)
        for node in state.servers:
            self._spawn(state, node)
        if state.mode == "zk":  # brokers give up on ZooKeeper after a while; let it listen first
            zookeeper = state.servers
            self._wait_until(zookeeper, lambda: [n for n in zookeeper if not port_accepting(n.port, n.host)], timeout_s)
        for node in state.brokers:
            self._spawn(state, node)
        self._wait_ready(state, state.brokers, timeout_s)

    def _format_storage(self, state: ClusterState, nodes: list[Node]) -> None:
        """Run StorageTool for the KRaft nodes at once: each is a JVM start, so this saves seconds."""
        java = java_executable()
        runs = []
        for node in nodes:
            self.layout.log_dir(node).mkdir(parents=True, exist_ok=True)
            argv = format_command(java, state, node, self.layout)
            runs.append((node, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        for node, proc in runs:
            output, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                tail = "\n".join(output.decode(errors="replace").splitlines()[-LOG_TAIL_LINES:])
                raise MedicError(f"formatting the storage of {node.name} failed:\n{tail}")

    def _spawn(self, state: ClusterState, node: Node) -> None:
        """Start the node's JVM and record its pid in the state file at once, so `down` can find it."""
        proc = spawn(java_command(java_executable(), state, node, self.layout), self.layout.stdout_log(node))
        self._children[node.name] = proc
        node.pid, node.pid_started = proc.pid, started_at(proc.pid)
        save_state(self.layout, state)

    def _wait_ready(self, state: ClusterState, brokers: list[Node], timeout_s: float) -> None:
        """Until each broker's port accepts and the cluster's metadata lists it."""

        def not_ready() -> list[Node]:
            listening = [n for n in brokers if port_accepting(n.port, n.host)]
            if len(listening) < len(brokers):
                return [n for n in brokers if n not in listening]
            registered = registered_brokers(state.bootstrap)
            return [n for n in brokers if n.node_id not in registered]

        self._wait_until([*state.servers, *brokers], not_ready, timeout_s)

    def _wait_until(self, watched: list[Node], not_ready: Callable[[], list[Node]], timeout_s: float) -> None:
        """Poll `not_ready()` until it is empty; fail as soon as a watched node's process exits, or
        at the deadline, with the log tail of the node at fault."""
        deadline = time.monotonic() + timeout_s
        while True:
            for node in watched:
                if _process(node) is None:
                    raise MedicError(f"{node.name} exited during start-up; {self._log_tail(node)}")
            pending = not_ready()
            if not pending:
                return
            if time.monotonic() > deadline:
                raise MedicError(
                    f"{pending[0].name} of dev-cluster {self.name!r} was not serving within {timeout_s:.0f} s; "
                    f"{self._log_tail(pending[0])}"
                )
            time.sleep(0.5)

    def _restart_dead(self, state: ClusterState, timeout_s: float) -> None:
        dead = [n for n in state.nodes if _process(n) is None]
        for node in sorted(dead, key=lambda n: n.role == "broker"):  # controllers/ZooKeeper first
            log.info("restarting %s", node.name)
            self._spawn(state, node)
        if dead:
            self._wait_ready(state, state.brokers, timeout_s)

    def _teardown(self, state: ClusterState | None) -> None:
        """Brokers first, while controllers can still take their clean shutdown, then the rest,
        then anything else running from this cluster's config dir; data and state go last."""
        if state is not None:
            self._stop_nodes(state.brokers, grace_s=10)
            self._stop_nodes(state.servers, grace_s=5)
        kill(self._strays())  # e.g. a node whose pid never made it into the state file
        self._reap()
        if state is not None:
            self._wait_ports_free(state.nodes)
        shutil.rmtree(self.layout.data_root, ignore_errors=True)
        delete_state(self.layout)

    def _stop_nodes(self, nodes: list[Node], grace_s: float) -> None:
        stop([p for p in map(_process, nodes) if p is not None], grace_s)
        self._reap()

    def _wait_ports_free(self, nodes: list[Node], timeout_s: float = 10.0) -> None:
        """Until the nodes' ports are released: a SIGKILLed JVM's leader thread turns zombie (gone, for
        `kill`) while its other threads still hold the listening sockets for a moment."""
        started = [n for n in nodes if n.pid is not None]  # a port we never bound may be anyone's
        ports = [(p, n.host) for n in started for p in n.ports]
        deadline = time.monotonic() + timeout_s
        while busy := [p for p, host in ports if port_taken(p, host)]:
            if time.monotonic() > deadline:
                raise MedicError(f"ports {busy} of dev-cluster {self.name!r} are still in use after stopping it")
            time.sleep(0.2)

    def _strays(self) -> list:
        return processes_mentioning(f"{self.layout.config_dir}/")

    def _reap(self) -> None:
        """Collect exit codes of our exited children so they do not linger as zombies."""
        for name, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[name]

    def _log_tail(self, node: Node) -> str:
        """The last lines of the node's log, and of its stdout/stderr if the JVM wrote any."""
        parts = []
        for path in (self.layout.server_log(node), self.layout.stdout_log(node)):
            lines = _tail(path, LOG_TAIL_LINES)
            if lines:
                parts.append(f"last lines of {path}:\n" + "\n".join(lines))
        return "\n".join(parts) if parts else f"it wrote no log in {self.layout.log_dir(node)}"


def _process(node: Node):
    return find_process(node.pid, node.pid_started)


def _jmx_url(broker: Node) -> str:
    return f"http://{broker.host}:{broker.jmx_port}/metrics"


def _zookeeper_connect(state: ClusterState) -> str | None:
    return f"{state.servers[0].host}:{state.servers[0].port}" if state.mode == "zk" else None


def _new_broker(state: ClusterState, broker_id: int, rack: str | None) -> Node:
    """Broker `broker_id` on the fixed layout's ports for that id, or on free ones when the cluster
    picked free ports."""
    sasl = bool(state.sasl_users)
    ports = plan_ports(state.base_port, broker_id, 0, sasl) if state.base_port else plan_ports(0, 1, 0, sasl)
    return Node(f"broker-{broker_id}", "broker", broker_id, ports["brokers"][-1], jmx_port=ports["jmx"][-1],
                sasl_port=ports["sasl"][-1] if sasl else None, rack=rack, host=state.servers[0].host)


def _least_used_rack(state: ClusterState) -> str | None:
    racks = [n.rack for n in state.brokers]
    return min(set(racks), key=lambda r: (racks.count(r), str(r)))


def _describe(state: ClusterState) -> str:
    servers = "1 ZooKeeper" if state.mode == "zk" else f"{len(state.servers)} controller(s)"
    racks = len({n.rack for n in state.brokers})
    return f"{servers} + {len(state.brokers)} brokers in {racks} racks, Kafka {state.version} ({state.mode})"


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            return handle.read().decode(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return []


def _new_cluster_id() -> str:
    """A Kafka Uuid string (22 chars of URL-safe base64); never starting with '-', which the
    StorageTool command line would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
