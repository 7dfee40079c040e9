"""Kafka, ZooKeeper and the Prometheus JMX exporter as jars from Maven Central, fetched once into a cache.

There is no Kafka distribution tarball to unpack: a throwaway pom lists what a node needs and
`mvn dependency:copy-dependencies` copies the resolved runtime classpath into `<cache>/<bundle>/libs`.
Maven does the resolving, checksums and its own ~/.m2 caching; we only make the result atomic.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from kafka_medic.devcluster.locks import file_lock
from kafka_medic.errors import MedicError

KRAFT_VERSION = "4.4.0"
ZOOKEEPER_MODE_VERSION = "3.9.2"  # the newest 3.9: Kafka 4.0 removed ZooKeeper mode
JMX_EXPORTER_VERSION = "1.0.1"
LOG4J_VERSION = "2.25.5"  # what Kafka 4.4 is built against; 3.9 only declares the slf4j API
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
MAVEN_TIMEOUT_S = 900

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Artifact:
    group: str
    artifact: str
    version: str
    exclusions: tuple[tuple[str, str], ...] = ()


def cache_root() -> Path:
    """`$KAFKA_MEDIC_CACHE`, else `$XDG_CACHE_HOME/kafka-medic`, else `~/.cache/kafka-medic`."""
    if override := os.environ.get("KAFKA_MEDIC_CACHE"):
        return Path(override)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kafka-medic"


def kafka_artifacts(version: str) -> list[Artifact]:
    """The broker/controller runtime classpath plus a log4j2 backend so nodes log to a file.

    kafka-tools-api holds interfaces for the command-line tools only and is not published for
    every release (4.4.0 lacks it), so it is left out.
    """
    return [
        Artifact(
            "org.apache.kafka",
            "kafka_2.13",
            version,
            exclusions=(("org.apache.kafka", "kafka-tools-api"),),
        ),
        Artifact("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
    ]


def kafka_libs(version: str) -> Path:
    """The directory of jars to put on a Kafka node's classpath (`<dir>/*`)."""
    return fetch(f"kafka-{version}", kafka_artifacts(version))


def jmx_exporter_jar() -> Path:
    """The JMX exporter javaagent; kept out of the Kafka classpath because it shades its own deps."""
    name = "jmx_prometheus_javaagent"
    libs = fetch(f"{name}-{JMX_EXPORTER_VERSION}", [Artifact("io.prometheus.jmx", name, JMX_EXPORTER_VERSION)])
    return libs / f"{name}-{JMX_EXPORTER_VERSION}.jar"


def render_pom(artifacts: list[Artifact]) -> str:
    deps = "".join(_dependency_xml(a) for a in artifacts)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kafka-medic dev-cluster: only used to let Maven resolve and copy these jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-medic</groupId>
  <artifactId>devcluster-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>{deps}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def _dependency_xml(a: Artifact) -> str:
    exclusions = "".join(
        f"<exclusion><groupId>{escape(g)}</groupId><artifactId>{escape(n)}</artifactId></exclusion>"
        for g, n in a.exclusions
    )
    return (
        f"\n    <dependency><groupId>{escape(a.group)}</groupId><artifactId>{escape(a.artifact)}</artifactId>"
        f"<version>{escape(a.version)}</version>"
        + (f"<exclusions>{exclusions}</exclusions>" if exclusions else "")
        + "</dependency>"
    )


def fetch(bundle: str, artifacts: list[Artifact]) -> Path:
    """Return `<cache>/<bundle>/libs`, running Maven once to fill it.

    Maven copies into a temp dir beside it that is renamed into place only when complete, under a
    file lock: a concurrent caller waits and then reuses the result, and an interrupted fetch leaves
    nothing that looks finished.
    """
    bundle_dir = cache_root() / bundle
    libs = bundle_dir / "libs"
    if libs.is_dir():
        return libs
    with file_lock(bundle_dir / ".lock"):
        if libs.is_dir():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MedicError("Maven (mvn) is not on PATH; it is needed once to fetch the Kafka jars")
        log.info("fetching %s from Maven Central (first use only) into %s", bundle, libs)
        pom = bundle_dir / "pom.xml"
        pom.write_text(render_pom(artifacts))
        staging = Path(tempfile.mkdtemp(prefix="libs.partial.", dir=bundle_dir))
        try:
            _run_maven(mvn, pom, staging, bundle)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return libs


def _run_maven(mvn: str, pom: Path, out_dir: Path, bundle: str) -> None:
    cmd = [
        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out_dir}",
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MedicError(f"Maven did not finish fetching {bundle} within {MAVEN_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise MedicError(f"Maven could not fetch {bundle}: {_first_error(done.stdout + done.stderr)}")


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("[ERROR]") and line[7:].strip():
            return re.sub(r"\s+", " ", line[7:].strip())
    return output.strip().splitlines()[-1] if output.strip() else "no output"
