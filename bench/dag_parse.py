"""What many clusters cost the DAG processor: dags/kafka_medic_dags.py parsed for N clusters in clusters.json.

.venv/bin/python bench/dag_parse.py [--clusters 1 10 100 500] [--output FILE]

Each size runs in a fresh subprocess, as the dag-processor parses a file in a fresh child: Airflow's own
`DagBag` imports the DAG file (timed as Airflow times it: the file's parse `duration`, against
`[core] dagbag_import_timeout`, 30 s by default), then every DAG is serialized as the processor does
before writing it to the database. The child reports both times (wall and CPU: on a shared machine the CPU time is the
comparable figure), its peak resident memory (ru_maxrss)
and the DAG and task counts; Airflow's import before the parse is timed apart, as the processor has it
imported already. The clusters differ only in name and connection: the DAG code is the same per cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = ROOT / "dags" / "kafka_medic_dags.py"

CHILD = """
import json, resource, sys, time
began, began_cpu = time.perf_counter(), time.process_time()
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
imported, imported_cpu = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
parsed, parsed_cpu = time.perf_counter(), time.process_time()
sizes = [len(json.dumps(DagSerialization.to_dict(dag))) for dag in bag.dags.values()]
serialized, serialized_cpu = time.perf_counter(), time.process_time()
print(json.dumps({"airflow_import_s": imported - began, "parse_s": bag.dagbag_stats[0].duration.total_seconds(),
                  "parse_wall_s": parsed - imported, "serialize_s": serialized - parsed,
                  "airflow_import_cpu_s": imported_cpu - began_cpu, "parse_cpu_s": parsed_cpu - imported_cpu,
                  "serialize_cpu_s": serialized_cpu - parsed_cpu,
                  "serialized_mb": sum(sizes) / 1e6, "dags": len(bag.dags),
                  "tasks": sum(len(d.tasks) for d in bag.dags.values()), "errors": bag.import_errors,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def clusters_file(directory: Path, count: int) -> Path:
    path = directory / f"clusters-{count}.json"
    path.write_text(json.dumps({"clusters": [{"name": f"c{i:04d}", "conn_id": f"kafka_medic_c{i:04d}"}
                                             for i in range(count)]}))
    return path


def parse(count: int, directory: Path) -> dict:
    env = {**os.environ, "KAFKA_MEDIC_CLUSTERS": str(clusters_file(directory, count)),
           "AIRFLOW_HOME": str(directory / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600"}  # measure past the default 30 s, not stop at it
    out = subprocess.run([sys.executable, "-c", CHILD, str(DAG_FILE)], env=env, capture_output=True, text=True,
                         check=True)
    return {"clusters": count, **json.loads(out.stdout.strip().splitlines()[-1]), "load_avg": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.clusters:
            began = time.monotonic()
            row = parse(count, Path(tmp))
            row["process_wall_s"] = time.monotonic() - began
            rows.append(row)
            print(f"{count:>5} clusters: {row['dags']:>5} DAGs {row['tasks']:>6} tasks, parse {row['parse_s']:.2f} s "
                  f"({row['parse_cpu_s']:.2f} s CPU), serialize {row['serialize_s']:.2f} s "
                  f"({row['serialize_cpu_s']:.2f} s CPU, {row['serialized_mb']:.1f} MB), "
                  f"peak RSS {row['peak_rss_mb']:.0f} MB, load {row['load_avg']:.1f}", flush=True)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
