"""Build kafka-medic's ClusterConfig and per-cluster settings from an Airflow `kafka` connection.

The connection is the apache-kafka provider's type: its extras are librdkafka settings
("bootstrap.servers", "security.protocol", "sasl.*", "ssl.*"). kafka-medic's own settings sit under
one extra key, "kafka_medic":

    {"bootstrap.servers": "broker1:9092", "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
     "sasl.username": "medic", "sasl.password": "...",
     "kafka_medic": {"zookeeper": "zk:2181", "jmx_urls": {"1": "http://broker1:7071/metrics"},
                     "prometheus": "http://prom:9090", "capacity_file": "/etc/kafka-medic/capacity.json",
                     "policy": {...}, "remediation": {"broker_failure": {"act_after_s": 600}}}}

`policy` is `kafka_medic.notify.policy`'s approval policy; `remediation` overrides the detector's alert and
act thresholds per anomaly kind (`kafka_medic.detector.remediation`).

SASL credentials may also be the connection's login and password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseHook

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig

MEDIC_KEY = "kafka_medic"
LIBRDKAFKA_KEYS = {
    "bootstrap.servers": "bootstrap",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_password",
}
MEDIC_SETTINGS = ("zookeeper", "jmx_urls", "prometheus", "capacity_file", "policy", "remediation")


@dataclass(frozen=True)
class ClusterSettings:
    config: ClusterConfig
    jmx_urls: dict[int, str] = field(default_factory=dict)
    prometheus: str | None = None
    capacity_file: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    remediation: dict[str, Any] = field(default_factory=dict)


class KafkaMedicHook(BaseHook):
    """Reads one cluster's `kafka` connection; never logs or returns its secrets outside ClusterConfig."""

    conn_name_attr = "kafka_config_id"
    conn_type = "kafka"
    hook_name = "kafka-medic cluster"

    def __init__(self, kafka_config_id: str, cluster: str) -> None:
        super().__init__()
        self.kafka_config_id = kafka_config_id
        self.cluster = cluster

    def get_settings(self) -> ClusterSettings:
        conn = self.get_connection(self.kafka_config_id)
        return settings_from_extras(self.cluster, conn.extra_dejson, conn.login, conn.password)


def settings_from_extras(cluster: str, extras: dict[str, Any], login: str | None = None,
                         password: str | None = None) -> ClusterSettings:
    """Pure mapping from connection fields to settings (kept apart from Airflow so it is easy to test)."""
    medic = dict(extras.get(MEDIC_KEY) or {})
    unknown = sorted(set(medic) - set(MEDIC_SETTINGS))
    if unknown:
        raise MedicError(f"connection extras {MEDIC_KEY!r}: unknown key(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(MEDIC_SETTINGS)}")
    values: dict[str, Any] = {"name": cluster}
    for key, name in LIBRDKAFKA_KEYS.items():
        if extras.get(key) is not None:
            values[name] = extras[key]
    if login and "sasl_username" not in values:
        values["sasl_username"] = login
    if password and "sasl_password" not in values:
        values["sasl_password"] = password
    if medic.get("zookeeper"):
        values["zookeeper"] = medic["zookeeper"]
    if "bootstrap" not in values:
        raise MedicError(f"the connection of cluster {cluster!r} has no 'bootstrap.servers' in its extras")
    try:
        jmx_urls = {int(b): str(url) for b, url in (medic.get("jmx_urls") or {}).items()}
    except ValueError:
        raise MedicError(f"{MEDIC_KEY}.jmx_urls must map broker ids to URLs") from None
    return ClusterSettings(
        config=ClusterConfig(**values),
        jmx_urls=jmx_urls,
        prometheus=medic.get("prometheus"),
        capacity_file=medic.get("capacity_file"),
        policy=dict(medic.get("policy") or {}),
        remediation=dict(medic.get("remediation") or {}),
    )
