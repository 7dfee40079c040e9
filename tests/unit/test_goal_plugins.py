"""Goals from other packages: installed through the `kafka_medic.goals` entry point group, planned
with like the built-in ones, and a broken one is a one-line error naming it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.goals import DEFAULT_GOALS, HARD_GOALS, check
from kafka_medic.model import apply_proposal
from kafka_medic.optimizer import PlanOptions, plan
from kafka_medic.synthetic import Scenario, synthetic_model

PLUGIN = Path(__file__).parents[1] / "plugins" / "custom_goal"
CUSTOM = "no_replicas_on_broker_1"


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path (importlib's caches invalidated) for this test only; what was
    imported from it is forgotten afterwards."""
    directory = tmp_path / "site"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    for name, module in list(sys.modules.items()):
        if directory in Path(getattr(module, "__file__", None) or "/").parents:
            del sys.modules[name]


def install(package: Path, target: Path) -> None:
    """Install `package` as pip would, into `target` (never the project's venv), offline: its build
    backend (hatchling) comes from uv's cache."""
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    subprocess.run(
        [uv, "pip", "install", "--offline", "--no-deps", "--python", sys.executable, "--target", str(target),
         str(package)],
        check=True, capture_output=True, text=True, timeout=120,
    )


def fake_dist(site: Path, name: str, entry_points: dict[str, str], module: str = "") -> None:
    """An installed distribution as importlib.metadata sees one: a dist-info with METADATA and
    entry_points.txt, and the module `name` with source `module`."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = [f"{key} = {value}" for key, value in entry_points.items()]
    (info / "entry_points.txt").write_text("[kafka_medic.goals]\n" + "\n".join(lines) + "\n")
    (site / f"{name}.py").write_text(module)


def test_an_installed_hard_goal_is_planned_and_kept_by_every_later_goal(site):
    install(PLUGIN, site)
    # broker 1 holds a share of every topic; a new, empty broker 10 gives its replicas a home
    model = synthetic_model(Scenario(brokers=10, partitions=300, racks=3, new=1), seed=3)
    goals = [*HARD_GOALS, CUSTOM, *DEFAULT_GOALS[len(HARD_GOALS) :]]
    before = {r.goal: r for r in check(model, goals)}
    assert not before[CUSTOM].satisfied and before[CUSTOM].brokers == [1]

    proposal = plan(model, PlanOptions(goals=goals, seed=1))

    after = {r.goal: r for r in check(apply_proposal(model, proposal), goals)}
    assert after[CUSTOM].satisfied, after[CUSTOM].detail
    assert all(after[goal].satisfied for goal in HARD_GOALS)
    # replica_distribution wants broker 1 filled up to its share, but may not undo the custom goal
    assert not any(1 in move.new_replicas for move in proposal.moves)
    assert CUSTOM in proposal.goals


def test_the_default_goal_list_never_looks_at_installed_packages(site):
    fake_dist(site, "broken_goals", {"broken": "broken_goals:Missing"})
    assert [r.goal for r in check(synthetic_model(seed=1))] == list(DEFAULT_GOALS)


@pytest.mark.parametrize(
    ("entry_points", "module", "message"),
    [
        ({"broken": "broken_goals:Missing"}, "", "goal plugin 'broken' (broken_goals:Missing) failed to load: "
         "AttributeError: "),
        ({"broken": "broken_goals:NotAGoal"}, "class NotAGoal:\n    name = 'broken'\n",
         "goal plugin 'broken' (broken_goals:NotAGoal) is not a subclass of kafka_medic.goals.Goal"),
        ({"broken": "broken_goals:Named"},
         "from kafka_medic.goals import Goal\nclass Named(Goal):\n    name, hard = 'other', False\n",
         "goal plugin 'broken' (broken_goals:Named) is a goal named 'other'; give both the same name"),
        ({"broken": "broken_goals:Goal", "rack_aware": "broken_goals:Goal"}, "",
         "goal plugin 'rack_aware' (broken_goals:Goal) takes the name of a built-in goal"),
    ],
)
def test_a_goal_plugin_that_is_not_a_goal_is_a_one_line_error(site, entry_points, module, message):
    fake_dist(site, "broken_goals", entry_points, module)
    with pytest.raises(MedicError) as raised:
        check(synthetic_model(seed=1), ["rack_aware", "broken"])
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_an_unknown_goal_lists_the_installed_ones(site):
    fake_dist(site, "more_goals", {"more": "more_goals:More"})
    with pytest.raises(MedicError, match=r"unknown goal 'mystery'; known goals: rack_aware, .*, more$"):
        check(synthetic_model(seed=1), ["mystery"])


def test_the_cli_and_the_forms_take_an_installed_goal_by_name(site, tmp_path, capsys):
    from kafka_medic.cli import main
    from kafka_medic.kafka.state import BrokerState, ClusterState
    from kafka_medic.model import load_proposal, save_model
    from kafka_medic.remediation.request import validate_request

    install(PLUGIN, site)
    model_file, out = tmp_path / "model.json", tmp_path / "proposal.json"
    save_model(synthetic_model(Scenario(brokers=10, partitions=300, racks=3, new=1), seed=3), model_file)
    goals = ",".join([*HARD_GOALS, CUSTOM])
    assert main(["plan", "-m", str(model_file), "--goals", goals, "-o", str(out)]) == 0
    assert CUSTOM in load_proposal(out).goals
    assert not any(1 in move.new_replicas for move in load_proposal(out).moves)

    state = ClusterState(cluster_id="c", controller_id=1, brokers={1: BrokerState(1, "h", 9092, "r1", alive=True)},
                         partitions=[], topic_configs={}, broker_configs={}, taken_at="2027-01-15T08:00:00Z")
    assert validate_request("rebalance", {"goals": [CUSTOM]}, state).goals == [CUSTOM]
    with pytest.raises(MedicError, match=f"goals: unknown goal 'nope'; known goals: .*{CUSTOM}"):
        validate_request("rebalance", {"goals": ["nope"]}, state)
    with pytest.raises(SystemExit):
        main(["plan", "-m", str(model_file), "--goals", "nope"])
    assert CUSTOM in capsys.readouterr().err


def test_listing_goal_names_for_the_forms_survives_a_broken_or_clashing_plugin(site):
    from kafka_medic.goals import GOAL_CLASSES, goal_names

    fake_dist(site, "broken_goals", {"broken": "broken_goals:Missing", "rack_aware": "broken_goals:Missing"})
    assert goal_names() == (*GOAL_CLASSES, "broken")
    with pytest.raises(MedicError, match="takes the name of a built-in goal"):
        check(synthetic_model(seed=1), [*DEFAULT_GOALS, "broken"])
