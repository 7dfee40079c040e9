"""The package's layers import downwards only, so a new command, sampler or goal stays a one-file change.

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kafka_medic

ROOT = Path(kafka_medic.__file__).parent
# layer -> layers it must not import (a layer is a subpackage, or a module at the top).
FORBIDDEN = {
    "kafka": {"metrics", "devcluster", "executor", "detector", "notify", "optimizer", "goals", "airflow", "cli"},
    "metrics": {"devcluster", "executor", "detector", "notify", "optimizer", "goals", "airflow", "cli"},
    "devcluster": {"metrics", "executor", "detector", "notify", "optimizer", "goals", "airflow", "cli"},
}
MODEL_MAY_IMPORT = {"model", "errors", "units"}  # the model does no I/O


def imports() -> dict[str, set[str]]:
    """Layer -> the kafka_medic layers its modules import, as 'layer (file)'."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kafka_medic."):
                found.setdefault(layer, set()).add((node.module.split(".")[1], str(rel)))
    return found


def test_the_model_imports_nothing_but_itself_errors_and_units():
    assert sorted((t, f) for t, f in imports()["model"] if t not in MODEL_MAY_IMPORT) == []


def test_io_layers_do_not_import_each_other_sideways_or_the_layers_above():
    wrong = {layer: sorted((t, f) for t, f in imports()[layer] if t in banned) for layer, banned in FORBIDDEN.items()}
    assert wrong == {layer: [] for layer in FORBIDDEN}


def test_only_the_cli_imports_the_cli():
    assert sorted((layer, f) for layer, found in imports().items() if layer != "cli"
                  for t, f in found if t == "cli") == []
