"""The Maven-backed jar cache: where it lives, the pom it writes, and that only complete fetches count."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from kafka_medic.devcluster.artifacts import Artifact, cache_root, fetch, kafka_artifacts, render_pom
from kafka_medic.errors import MedicError

POM = "{http://maven.apache.org/POM/4.0.0}"


def test_cache_root_prefers_override_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KAFKA_MEDIC_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_root() == tmp_path / "home" / ".cache" / "kafka-medic"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "kafka-medic"
    monkeypatch.setenv("KAFKA_MEDIC_CACHE", str(tmp_path / "override"))
    assert cache_root() == tmp_path / "override"


def test_pom_lists_kafka_with_exclusions_and_a_log4j2_backend():
    root = ET.fromstring(render_pom(kafka_artifacts("4.4.0")))
    deps = root.findall(f"{POM}dependencies/{POM}dependency")
    coords = [(d.findtext(f"{POM}groupId"), d.findtext(f"{POM}artifactId"), d.findtext(f"{POM}version")) for d in deps]
    assert coords[0] == ("org.apache.kafka", "kafka_2.13", "4.4.0")
    assert {a for _, a, _ in coords} >= {"log4j-core", "log4j-slf4j-impl"}
    excluded = [e.findtext(f"{POM}artifactId") for e in deps[0].iter(f"{POM}exclusion")]
    assert excluded == ["kafka-tools-api"]
    assert root.findtext(f"{POM}packaging") == "pom"


def test_a_finished_fetch_is_reused_without_maven(monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_MEDIC_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "")  # no mvn: any attempt to run Maven would fail
    libs = tmp_path / "kafka-9.9.9" / "libs"
    libs.mkdir(parents=True)
    assert fetch("kafka-9.9.9", [Artifact("org.apache.kafka", "kafka_2.13", "9.9.9")]) == libs


def test_without_maven_the_error_says_so_and_nothing_looks_fetched(monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_MEDIC_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(MedicError, match="mvn"):
        fetch("kafka-9.9.9", [Artifact("org.apache.kafka", "kafka_2.13", "9.9.9")])
    assert not (tmp_path / "kafka-9.9.9" / "libs").exists()
