"""The files each node reads: server.properties per role, the log4j2 config and the JMX exporter rules.

Settings aim at a dev cluster that behaves like a production one where kafka-medic looks (racks,
RF 3, min ISR 2, no automatic leader rebalancing: the balancer decides) while staying small on a
laptop (few threads, small segments so data shows up as files quickly) and noticing a killed
broker within seconds instead of the production default of ~10-18 s.
"""

from __future__ import annotations

from pathlib import Path

from kafka_medic.devcluster.state import ClusterState, Layout, Node

SESSION_TIMEOUT_MS = 6000  # a SIGKILLed broker is fenced (KRaft) or its znode expires (ZK) after this
HEARTBEAT_MS = 1000
SEGMENT_BYTES = 1024 * 1024  # the smallest Kafka 4 accepts
SCRAM = "SCRAM-SHA-512"  # the SASL listener's second mechanism (KRaft)


def topic_defaults(brokers: int) -> dict[str, object]:
    """Replication settings capped by the broker count, so a 1- or 2-broker cluster still works."""
    rf = min(3, brokers)
    min_isr = min(2, rf)
    return {
        "num.partitions": 3,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "auto.leader.rebalance.enable": "false",
        "group.initial.rebalance.delay.ms": 0,
    }


BROKER_TUNING: dict[str, object] = {
    "log.segment.bytes": SEGMENT_BYTES,
    "num.network.threads": 2,
    "num.io.threads": 2,
    "num.replica.fetchers": 1,
    "background.threads": 2,
    "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
}


def node_properties(state: ClusterState, node: Node, layout: Layout) -> dict[str, object]:
    """server.properties (or ZooKeeper's zoo.cfg) content for `node` as an ordered dict."""
    if node.role == "zookeeper":
        return {
            "dataDir": layout.data(node),
            "clientPort": node.port,
            "clientPortAddress": node.host,
            "tickTime": 1000,
            "admin.enableServer": "false",  # its Jetty admin server would grab port 8080
            "4lw.commands.whitelist": "ruok,srvr,stat",
        }
    brokers = len(state.brokers)
    disks = layout.disks(node, state.log_dirs) if node.role == "broker" else [layout.data(node)]
    props: dict[str, object] = {"log.dirs": ",".join(map(str, disks))}
    if len(disks) > 1 and state.mode == "kraft":  # its own dir, as on the OS disk: any data disk may fail
        props["metadata.log.dir"] = layout.data(node) / "metadata"
    if state.mode == "zk":
        zookeeper = state.servers[0]
        props |= {
            "broker.id": node.node_id,
            "zookeeper.connect": f"{zookeeper.host}:{zookeeper.port}",
            "zookeeper.session.timeout.ms": SESSION_TIMEOUT_MS,
        }
    else:
        voters = ",".join(f"{c.node_id}@{c.host}:{c.port}" for c in state.servers)
        props |= {
            "process.roles": node.role,
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "broker.session.timeout.ms": SESSION_TIMEOUT_MS,
            "broker.heartbeat.interval.ms": HEARTBEAT_MS,
        }
    if node.role == "controller":
        # The controller applies topic defaults to CreateTopics requests that leave them out.
        return props | {"listeners": f"CONTROLLER://{node.host}:{node.port}"} | topic_defaults(brokers)
    listeners = f"PLAINTEXT://{node.host}:{node.port}"
    if node.sasl_port is not None:
        listeners += f",SASL_PLAINTEXT://{node.host}:{node.sasl_port}"
        props |= sasl_properties(state)
    props |= {"broker.rack": node.rack, "listeners": listeners, "advertised.listeners": listeners}
    if state.mode == "kraft":
        props["inter.broker.listener.name"] = "PLAINTEXT"
    return props | topic_defaults(brokers) | BROKER_TUNING


def sasl_properties(state: ClusterState) -> dict[str, object]:
    """The SASL listener's logins: PLAIN with the users inline and, in KRaft, SCRAM-SHA-512 with the same
    users (their credentials go into the cluster's metadata when the storage is formatted). The brokers
    talk to each other in PLAINTEXT; clients that use the SASL listener must authenticate."""
    accounts = " ".join(f'user_{user}="{password}"' for user, password in state.sasl_users.items())
    props: dict[str, object] = {
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config":
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {accounts};",
    }
    if state.mode == "kraft":
        props["sasl.enabled.mechanisms"] = f"PLAIN,{SCRAM}"
        props[f"listener.name.sasl_plaintext.{SCRAM.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    return props


def render_properties(props: dict[str, object]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


def write_configs(state: ClusterState, layout: Layout) -> None:
    """Write every node's properties plus the shared log4j2 and JMX exporter files."""
    layout.config_dir.mkdir(parents=True, exist_ok=True)
    layout.log4j_config.write_text(LOG4J2_PROPERTIES)
    layout.jmx_config.write_text(JMX_EXPORTER_YAML)
    for node in state.nodes:
        write_node_config(state, node, layout)


def write_node_config(state: ClusterState, node: Node, layout: Layout) -> None:
    props = node_properties(state, node, layout)
    if node.role == "broker":
        props |= state.broker_config
    layout.config(node).write_text(render_properties(props))


def jvm_options(node: Node, layout: Layout, jmx_agent: Path) -> list[str]:
    """Small heaps and one GC/JIT thread each: 5-6 JVMs have to share two cores without fighting."""
    heap = {"broker": ["-Xms128m", "-Xmx384m"], "controller": ["-Xms64m", "-Xmx256m"]}
    opts = [
        *heap.get(node.role, ["-Xms32m", "-Xmx128m"]),
        "-XX:+UseSerialGC",
        "-XX:ActiveProcessorCount=1",
        "-XX:TieredStopAtLevel=1",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dkafka.logs.dir={layout.log_dir(node)}",
        f"-Dlog4j2.configurationFile={layout.log4j_config}",
    ]
    if node.jmx_port is not None:
        opts.append(f"-javaagent:{jmx_agent}={node.host}:{node.jmx_port}:{layout.jmx_config}")
    return opts


MAIN_CLASS = {
    "broker": "kafka.Kafka",
    "controller": "kafka.Kafka",
    "zookeeper": "org.apache.zookeeper.server.ZooKeeperServerMain",
}


def java_command(java: str, state: ClusterState, node: Node, layout: Layout) -> list[str]:
    """The whole command line; it names the node's config under the cluster home, which is how
    stray processes of this cluster are recognised."""
    options = jvm_options(node, layout, Path(state.jmx_agent))
    classpath = f"{state.libs}/*"  # the JVM expands the wildcard itself
    netns = ["ip", "netns", "exec", node.netns] if node.netns else []  # execs the JVM: the pid stays the JVM's
    return [*netns, java, *options, "-cp", classpath, MAIN_CLASS[node.role], str(layout.config(node))]


def format_command(java: str, state: ClusterState, node: Node, layout: Layout) -> list[str]:
    """KRaft storage formatting (meta.properties and the bootstrap metadata) for one node."""
    return [
        java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-cp", f"{state.libs}/*", "kafka.tools.StorageTool",
        "format", "--cluster-id", state.cluster_id, "--config", str(layout.config(node)),
        *[arg for user, password in state.sasl_users.items()
          for arg in ("--add-scram", f"{SCRAM}=[name={user},password={password}]")],
    ]  # fmt: skip


LOG4J2_PROPERTIES = """\
# kafka-medic dev-cluster: every node logs to ${kafka.logs.dir}/server.log, rolled at 10 MB.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""

JMX_EXPORTER_YAML = r"""# Prometheus JMX exporter rules for kafka-medic dev brokers.
# Meters are exported as their cumulative Count (<name>_total counters) so a sampler can compute a
# rate over any window it likes; per-topic series carry a topic label, broker-wide ones do not.
lowercaseOutputName: true
lowercaseOutputLabelNames: true
includeObjectNames:
  - "kafka.server:type=BrokerTopicMetrics,*"
  - "kafka.server:type=KafkaRequestHandlerPool,name=RequestHandlerAvgIdlePercent"
  - "kafka.server:type=ReplicaManager,*"
  - "kafka.network:type=RequestMetrics,name=RequestsPerSec,*"
  - "kafka.network:type=SocketServer,name=NetworkProcessorAvgIdlePercent"
  - "kafka.controller:type=KafkaController,*"
  - "kafka.log:type=Log,name=Size,*"
  - "java.lang:type=OperatingSystem"
rules:
  # BytesIn, BytesOut, MessagesIn, ReplicationBytesIn/Out, TotalProduceRequests, ...
  - pattern: 'kafka.server<type=BrokerTopicMetrics, name=(\w+)PerSec, topic=(.+)><>Count'
    name: kafka_server_brokertopicmetrics_$1_total
    type: COUNTER
    labels:
      topic: "$2"
  - pattern: 'kafka.server<type=BrokerTopicMetrics, name=(\w+)PerSec><>Count'
    name: kafka_server_brokertopicmetrics_$1_total
    type: COUNTER
  - pattern: 'kafka.network<type=RequestMetrics, name=RequestsPerSec, request=(\w+), version=(\d+)><>Count'
    name: kafka_network_requestmetrics_requests_total
    type: COUNTER
    labels:
      request: "$1"
      version: "$2"
  # Idle fractions (0..1): low values mean a busy broker, the CPU signal Kafka itself gives.
  - pattern: 'kafka.server<type=KafkaRequestHandlerPool, name=RequestHandlerAvgIdlePercent><>OneMinuteRate'
    name: kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent
    type: GAUGE
  - pattern: 'kafka.network<type=SocketServer, name=NetworkProcessorAvgIdlePercent><>Value'
    name: kafka_network_socketserver_networkprocessoravgidlepercent
    type: GAUGE
  # UnderReplicatedPartitions, PartitionCount, LeaderCount, OfflineReplicaCount, ...
  - pattern: 'kafka.server<type=ReplicaManager, name=(\w+)><>Value'
    name: kafka_server_replicamanager_$1
    type: GAUGE
  # ZooKeeper mode only: in KRaft these live on the controllers.
  - pattern: 'kafka.controller<type=KafkaController, name=(\w+)><>Value'
    name: kafka_controller_kafkacontroller_$1
    type: GAUGE
  - pattern: 'kafka.log<type=Log, name=Size, topic=(.+), partition=(\d+)><>Value'
    name: kafka_log_log_size
    type: GAUGE
    labels:
      topic: "$1"
      partition: "$2"
  # Fraction (0..1) of the whole machine's CPU used by this JVM.
  - pattern: 'java.lang<type=OperatingSystem><>ProcessCpuLoad'
    name: java_lang_operatingsystem_processcpuload
    type: GAUGE
"""
