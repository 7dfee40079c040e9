"""The README's main command, as a newcomer runs it: `kafka-medic demo` reaches a healed cluster once
someone clicks Approve in the Airflow UI, in a real browser (headless Chromium driven by Playwright).

The demo runs as its own process with its own KAFKA_MEDIC_HOME and free ports, so it shares nothing
with the rest of the session; the test reads the demo's output as a person would, opens the link the
demo prints, reads the proposal there and clicks the button.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .browser import answer, browser_page

pytestmark = pytest.mark.kafka

KAFKA_MEDIC = Path(sys.executable).parent / "kafka-medic"
VICTIM = 4


class DemoProcess:
    """`kafka-medic demo` with its output collected line by line, for waiting on what it says."""

    def __init__(self, home: Path, port: int) -> None:
        self.env = {**os.environ, "KAFKA_MEDIC_HOME": str(home)}
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [str(KAFKA_MEDIC), "demo", "--base-port", "0", "--port", str(port), "--grace", "20",
             "--workload-seconds", "10", "--rate", "200"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout_s: float) -> re.Match:
        """The first line from now on that matches `pattern`; fails with the demo's output so far."""
        try:
            while True:
                line = self.lines.get(timeout=timeout_s)
                self.output.append(line)
                if match := re.search(pattern, line):
                    return match
        except queue.Empty:
            raise AssertionError(f"the demo never printed /{pattern}/ within {timeout_s:.0f}s; it printed:\n"
                                 + "\n".join(self.output[-60:])) from None

    def stop(self) -> None:
        """Ctrl-C, as the README says, then `dev-cluster down`. The demo must stop its Airflow itself (in
        its own session, nothing else reaches it): anything left running from the demo's home is killed,
        then reported as a failure."""
        stuck = False
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                stuck = True
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        subprocess.run([str(KAFKA_MEDIC), "dev-cluster", "down"], env=self.env, check=True, timeout=300,
                       stdout=subprocess.DEVNULL)
        left = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get("KAFKA_MEDIC_HOME") == self.env["KAFKA_MEDIC_HOME"]:
                    left.append(" ".join(proc.cmdline()[:3]))
                    proc.kill()
            except psutil.Error:
                continue
        assert not stuck, "the demo did not stop within 120 s of Ctrl-C"
        assert not left, f"the demo left processes running: {left}"


@pytest.fixture
def demo(tmp_path):
    process = DemoProcess(tmp_path / "home", free_ports(1)[0])
    try:
        yield process
    finally:
        process.stop()


def test_demo_heals_the_killed_broker_after_approval_in_the_airflow_ui(demo, tmp_path):
    link = demo.wait_for_line(r"APPROVE NOW: (\S+)", timeout_s=1500)[1]
    cluster = DevCluster.load("dev", home=tmp_path / "home" / "devcluster" / "dev")
    config = ClusterConfig(bootstrap=cluster.bootstrap)
    waiting = read_cluster_state(config)
    assert waiting.dead_brokers == [VICTIM] and waiting.under_replicated_partitions(), "nothing may move yet"

    # A plan that no longer fits the cluster when approved moves nothing and is planned again, asking again
    # (the demo prints a new link): a person approves that one too. The policy's max_replans (3) bounds it.
    for _ in range(4):
        with browser_page(link) as page:
            approve = page.get_by_role("button", name="Approve", exact=True)
            approve.wait_for(timeout=120_000)
            proposal = page.inner_text("body")
            assert "approve the proposal?" in proposal and "replica moves" in proposal, proposal
            page.screenshot(path=str(tmp_path / "approval.png"))
            answer(page, approve)
        line = demo.wait_for_line(r"APPROVE NOW: (\S+)|heal run \S+ (success|failed)", timeout_s=900)
        if line[1] is None:
            break
        link = line[1]
    assert line[2] == "success", "\n".join(demo.output[-60:])
    demo.wait_for_line(r"until Ctrl-C", timeout_s=300)  # a person reads the result, then presses Ctrl-C
    healed = read_cluster_state(config)
    left = {p.name: p.replicas for p in healed.partitions if VICTIM in p.replicas}
    # Seen once, before the demo followed re-planned runs: 12 partitions still on the dead broker after a
    # "success". Should it happen again, the failure says what was proposed and what the demo printed.
    assert left == {}, (f"replicas left on the dead broker: {left}\nproposed:\n{proposal[:4000]}\nthe demo printed:\n"
                        + "\n".join(demo.output[-80:]))
    assert healed.under_replicated_partitions() == [] and healed.throttles() == {"brokers": {}, "topics": {}}
