"""Talking to Kafka clusters: one connection config, Admin clients, the state reader (and kazoo for
ZooKeeper-mode clusters), and the observed state turned into a cluster model."""
