"""Which samplers a cluster is sampled with, chosen in one place for the `sample` command and the sample DAG.

The Admin API sampler always runs, and first: the JMX and Prometheus samplers read its round (which
partitions exist, which are reassigning). Each broker's JMX exporter is scraped when its URL is known,
and Prometheus is queried when a server is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.jmx_sampler import JmxSampler
from kafka_medic.metrics.prometheus_sampler import PrometheusSampler, load_queries
from kafka_medic.metrics.sampling import Sampler


def make_samplers(
    config: ClusterConfig,
    known_brokers: Mapping[int, str | None] | None = None,
    jmx_urls: Mapping[int, str] | None = None,
    prometheus: str | None = None,
    prometheus_queries: str | Path | None = None,
) -> list[Sampler]:
    """The samplers for `config`'s cluster, the Admin sampler first; `prometheus_queries` is a JSON file
    overriding the default queries."""
    admin = AdminSampler(config, dict(known_brokers or {}))
    samplers: list[Sampler] = [admin]
    if jmx_urls:
        samplers.append(JmxSampler(dict(jmx_urls), admin))
    if prometheus:
        samplers.append(PrometheusSampler(prometheus, admin, load_queries(prometheus_queries)))
    return samplers
