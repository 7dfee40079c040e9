"""Unregistering a retired KRaft broker, which no Python client can do: the Java Admin client that the
cluster's own jars hold does it, from a one-file Java program the JVM compiles as it starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kafka_medic.devcluster.processes import java_executable
from kafka_medic.devcluster.state import ClusterState
from kafka_medic.errors import MedicError

PROGRAM = """\
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;

public class UnregisterBroker {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(props)) {
            admin.unregisterBroker(Integer.parseInt(args[1])).all().get();
        }
    }
}
"""
TIMEOUT_S = 120


def unregister_broker(state: ClusterState, broker_id: int, work_dir: Path) -> None:
    """Remove the broker's registration from the KRaft metadata; MedicError with Java's words if refused."""
    source = work_dir / "UnregisterBroker.java"
    source.write_text(PROGRAM)
    argv = [java_executable(), "-Xmx128m", "-XX:+UseSerialGC", "-Dlog4j2.level=error", "-cp", f"{state.libs}/*",
            str(source), state.bootstrap, str(broker_id)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MedicError(f"unregistering broker {broker_id} did not finish within {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        cause = [line for line in (done.stderr or done.stdout).splitlines() if "Exception" in line][:1]
        raise MedicError(f"unregistering broker {broker_id} failed: {cause[0] if cause else done.stderr.strip()}")
