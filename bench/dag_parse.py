"""What many clusters cost the DAG processor: the dags folder (kafka_medic_dags_0..7.py) parsed for N clusters.

.venv/bin/python bench/dag_parse.py [--clusters 1 10 100 500] [--output FILE]

Each size runs in a fresh subprocess: Airflow's own `DagBag` imports every DAG file of the folder (timed
as Airflow times each file: its parse `duration`, against `[core] dagbag_import_timeout`, 30 s by default),
then every DAG is serialized as the processor does before writing it to the database. The clusters are
sharded over the files, which the dag-processor parses in parallel children, each under its own timeouts:
the figure that matters is the slowest file's (parse and serialization), reported beside the totals. The
child reports wall and CPU times (on a shared machine the CPU time is the comparable figure), its peak
resident memory (ru_maxrss) and the DAG and task counts; Airflow's import before the parse is timed apart,
as the processor has it imported already. The clusters differ only in name and connection: the DAG code
is the same per cluster.
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
DAGS = ROOT / "dags"

CHILD = """
import glob, json, resource, sys, time
began, began_cpu = time.perf_counter(), time.process_time()
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
imported, imported_cpu = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False, collect_dags=False)
files = []
for path in sorted(glob.glob(sys.argv[1] + "/*.py")):  # one at a time, as the processor's children take them
    wall, cpu = time.perf_counter(), time.process_time()
    dags = bag.process_file(path, only_if_updated=False, safe_mode=False)
    parsed, parsed_cpu = time.perf_counter(), time.process_time()
    size = sum(len(json.dumps(DagSerialization.to_dict(dag))) for dag in dags)
    files.append({"parse_s": parsed - wall, "parse_cpu_s": parsed_cpu - cpu,
                  "serialize_s": time.perf_counter() - parsed, "serialize_cpu_s": time.process_time() - parsed_cpu,
                  "mb": size / 1e6, "dags": len(dags),
                  "tasks": sum(len(dag.tasks) for dag in dags)})
print(json.dumps({"airflow_import_s": imported - began, "airflow_import_cpu_s": imported_cpu - began_cpu,
                  "files": len(files), "errors": bag.import_errors,
                  **{f"{k}_total": sum(f[k] for f in files) for k in files[0]},
                  **{f"{k}_slowest_file": max(f[k] for f in files) for k in files[0] if k.endswith("_s")},
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
    out = subprocess.run([sys.executable, "-c", CHILD, str(DAGS)], env=env, capture_output=True, text=True,
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
            print(f"{count:>5} clusters: {row['dags_total']:>5} DAGs {row['tasks_total']:>6} tasks in {row['files']} "
                  f"files; slowest file: parse {row['parse_cpu_s_slowest_file']:.2f} s CPU, serialize "
                  f"{row['serialize_cpu_s_slowest_file']:.2f} s CPU; all files: parse {row['parse_cpu_s_total']:.2f} s "
                  f"CPU, serialize {row['serialize_cpu_s_total']:.2f} s CPU, {row['mb_total']:.1f} MB; peak RSS "
                  f"{row['peak_rss_mb']:.0f} MB, load {row['load_avg']:.1f}", flush=True)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
