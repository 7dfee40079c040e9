"""How to reach one Kafka cluster: the single connection object every client is built from.

The Airflow adapter builds it from a `kafka` connection; the CLI from flags, the environment
or the running dev cluster. Secrets live only here and are never part of `repr` or logs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from kafka_medic.errors import MedicError
from kafka_medic.limits import OutOfLimits, read_bounded

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
SSL_FILES = {"ssl_cafile": "SSL CA file", "ssl_certfile": "SSL certificate file", "ssl_keyfile": "SSL key file"}
MAX_SSL_FILE_BYTES = 2**20  # a CA bundle is some hundred KB


@dataclass(frozen=True)
class ClusterConfig:
    """Connection settings for one cluster; `bootstrap` is "host:port[,host:port...]"."""

    bootstrap: str
    name: str = "dev"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: str | None = field(default=None, repr=False)
    zookeeper: str | None = None
    request_timeout_ms: int = 30000

    def __post_init__(self) -> None:
        _check_bootstrap(self.bootstrap)
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise MedicError(
                f"security_protocol {self.security_protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
            )
        if self.sasl_mechanism is not None and self.sasl_mechanism not in SASL_MECHANISMS:
            raise MedicError(
                f"sasl_mechanism {self.sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
            )
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise MedicError(f"security_protocol {self.security_protocol} needs a sasl_mechanism")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterConfig:
        """Build from a plain mapping (e.g. an Airflow connection's extras); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MedicError(f"unknown cluster setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        if "bootstrap" not in data:
            raise MedicError("cluster setting 'bootstrap' is missing (host:port[,host:port...])")
        return cls(**data)

    @classmethod
    def from_env(cls, bootstrap: str, name: str = "dev") -> ClusterConfig:
        """Flags give the address; credentials come from KAFKA_MEDIC_* environment variables."""
        env = os.environ
        return cls(
            bootstrap=bootstrap,
            name=name,
            security_protocol=env.get("KAFKA_MEDIC_SECURITY_PROTOCOL", "PLAINTEXT"),
            sasl_mechanism=env.get("KAFKA_MEDIC_SASL_MECHANISM"),
            sasl_username=env.get("KAFKA_MEDIC_SASL_USERNAME"),
            sasl_password=env.get("KAFKA_MEDIC_SASL_PASSWORD"),
            ssl_cafile=env.get("KAFKA_MEDIC_SSL_CAFILE"),
            ssl_certfile=env.get("KAFKA_MEDIC_SSL_CERTFILE"),
            ssl_keyfile=env.get("KAFKA_MEDIC_SSL_KEYFILE"),
            ssl_password=env.get("KAFKA_MEDIC_SSL_PASSWORD"),
            zookeeper=env.get("KAFKA_MEDIC_ZOOKEEPER"),
        )

    def check_files(self) -> None:
        """Every SSL file named is a readable regular file, checked before connecting: both clients would
        otherwise report a missing CA file as a failed handshake or a timeout, naming no file."""
        for setting, what in SSL_FILES.items():
            path = getattr(self, setting)
            if path is None:
                continue
            try:
                read_bounded(path, MAX_SSL_FILE_BYTES)
            except OSError as exc:
                raise MedicError(f"{what} {path!r} ({setting}) cannot be read: {exc.strerror or exc}") from None
            except OutOfLimits as exc:
                raise MedicError(f"{what} {path!r} ({setting}) {exc}") from None

    def describe_login(self) -> str:
        """How this config logs in, without its secrets, e.g. for an error message."""
        if self.security_protocol.startswith("SASL"):
            return f"the {self.sasl_mechanism} login of user {self.sasl_username!r} ({self.security_protocol})"
        return f"a {self.security_protocol} connection"

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (KafkaAdminClient, KafkaConsumer...)."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap.split(","),
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        optional = {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": self.sasl_password,
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
            "ssl_password": self.ssl_password,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        return conf

    def confluent(self) -> dict[str, Any]:
        """Configuration dict for confluent-kafka (librdkafka) clients."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
            "socket.timeout.ms": self.request_timeout_ms,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_cafile,
            "ssl.certificate.location": self.ssl_certfile,
            "ssl.key.location": self.ssl_keyfile,
            "ssl.key.password": self.ssl_password,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        return conf


def _check_bootstrap(bootstrap: str) -> None:
    if not bootstrap or not isinstance(bootstrap, str):
        raise MedicError("bootstrap servers are empty; expected host:port[,host:port...]")
    for server in bootstrap.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise MedicError(f"bootstrap server {server!r} is not host:port (port 1-65535)")
