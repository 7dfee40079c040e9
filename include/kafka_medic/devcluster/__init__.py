"""Real local Kafka clusters (KRaft or ZooKeeper mode) for the demo and the integration tests.

The jars come from Maven Central (see `artifacts`), each node is a plain `java` process with a
Prometheus JMX exporter agent, and `DevCluster` starts, inspects and stops them.
"""

from kafka_medic.devcluster.cluster import DevCluster

__all__ = ["DevCluster"]
