"""The report's lines summarise: counts per topic and the first few names, whatever the number of moves."""

from __future__ import annotations

from kafka_medic.executor.report import report_lines
from kafka_medic.units import MB


def test_report_lines_stay_short_with_100k_moves():
    done = [f"big-{i}" for i in range(90_000)] + [f"small-{i}" for i in range(9_990)]
    undone = [{"partition": f"small-{i}", "state": "failed", "reason": "refused"} for i in range(9_990, 10_000)]
    report = {"execution_id": "e", "status": "failed", "message": None, "duration_s": 12.0,
              "bytes_moved": 3 * MB, "done": done, "undone": undone, "throttles_left": []}
    lines = report_lines(report)
    assert lines[1] == "done (99990): 2 topics: big 90000, small 9990; big-0, big-1, big-2, big-3, big-4 +99985"
    assert lines[2] == ("not done (10): small-9990 (failed: refused), small-9991 (failed: refused), "
                        "small-9992 (failed: refused), small-9993 (failed: refused), small-9994 (failed: refused) +5")
    assert max(len(line) for line in lines) < 200
