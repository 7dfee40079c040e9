"""The Cruise Control protocol without a server: parameters, response shapes, user tasks, the schema."""

from __future__ import annotations

import threading

import pytest

from kafka_medic.ccapi import JSON_VERSION, openapi, responses
from kafka_medic.ccapi.mapping import SelfHealingSwitch, checked_request, form_values, self_healing_switches
from kafka_medic.ccapi.params import ENDPOINTS, ParameterError, parse
from kafka_medic.ccapi.tasks import ACTIVE, COMPLETED, COMPLETED_WITH_ERROR, UserTasks, wait
from kafka_medic.detector.anomaly import BROKER_FAILURE, Anomaly
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.limits import topic_regex
from kafka_medic.metrics.load_model import LoadModel
from kafka_medic.model import Broker, ClusterModel, Partition
from kafka_medic.model.proposal import Move, Proposal
from kafka_medic.units import MB

CAPACITY = {"disk": 1000.0, "nw_in": 100.0, "nw_out": 100.0, "cpu": 100.0}


def model() -> ClusterModel:
    load = {"disk": 100.0, "nw_in": 10.0, "nw_out": 20.0, "cpu": 10.0}
    return ClusterModel(
        cluster="c", taken_at="2027-01-15T08:00:00Z",
        brokers=[Broker(b, f"r{b % 2}", capacity=dict(CAPACITY), host=f"h{(b + 1) // 2}", alive=b != 3)
                 for b in (1, 2, 3)],
        partitions=[Partition("t", 0, [1, 2], 1, dict(load)), Partition("t", 1, [2, 1], 2, {**load, "disk": 300.0}),
                    Partition("u", 0, [1, 3], 1, {**load, "disk": 50.0})],
    )


def state() -> ClusterState:
    brokers = {b: BrokerState(b, "h", 9092, "r1", alive=b != 3, log_dirs={"/d": (10**12, 10**11)}) for b in (1, 2, 3)}
    return ClusterState(
        cluster_id="c1", controller_id=1, brokers=brokers, topic_configs={"t": {"min.insync.replicas": "2"}},
        broker_configs={}, taken_at="2027-01-15T08:00:00Z",
        partitions=[PartitionState("t", 0, [1, 2], 1, [1, 2]), PartitionState("t", 1, [2, 1], 2, [2]),
                    PartitionState("u", 0, [1, 3], 1, [1])],
    )


def loads(valid_windows: int = 3, windows: int = 5, ratio: float = 0.5) -> LoadModel:
    return LoadModel(cluster="c", now=0.0, window_s=300.0, windows=windows, min_valid_ratio=0.95,
                     valid_windows=valid_windows, valid_partition_ratio=ratio, partition_load={}, leaders={},
                     replicas={}, brokers={}, broker_load={})


def refused(endpoint: str, method: str, query: list[tuple[str, str]]) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        parse(endpoint, method, query)
    return caught.value


def test_parameters_parse_as_cruise_control_takes_them():
    assert parse("rebalance", "POST", [("DryRun", "False"), ("goals", "RackAwareGoal,com.linkedin.DiskCapacityGoal"),
                                       ("replication_throttle", "1048576"), ("json", "true")]) == {
        "dryrun": False, "goals": ["rack_aware", "disk_capacity"], "replication_throttle": 1048576, "json": True}
    assert parse("remove_broker", "POST", [("brokerid", "1, 2")])["brokerid"] == [1, 2]
    assert parse("partition_load", "GET", [("resource", "NETWORK_INBOUND"), ("partition", "2-5")]) == {
        "resource": "nw_in", "partition": (2, 5)}
    assert parse("state", "GET", [("substates", "executor,MONITOR")]) == {"substates": ["executor", "monitor"]}
    assert parse("load", "GET", [("allow_capacity_estimation", "false"), ("verbose", "true")])  # no effect, accepted


@pytest.mark.parametrize("endpoint, method, query, named", [
    ("rebalance", "POST", [("foo", "1")], "foo"),
    ("rebalance", "POST", [("dryrun", "maybe")], "dryrun"),
    ("rebalance", "POST", [("goals", "NoSuchGoal")], "goals"),
    ("rebalance", "POST", [("excluded_topics", "(")], "excluded_topics"),
    ("rebalance", "POST", [("concurrent_partition_movements_per_broker", "0")],
     "concurrent_partition_movements_per_broker"),
    ("rebalance", "POST", [("dryrun", "true"), ("DRYRUN", "false")], "dryrun"),
    ("remove_broker", "POST", [], "brokerid"),
    ("remove_broker", "POST", [("brokerid", "a")], "brokerid"),
    ("add_broker", "POST", [("brokerid", "-1")], "brokerid"),
    ("partition_load", "GET", [("partition", "5-2")], "partition"),
    ("partition_load", "GET", [("entries", "x" * 20_000)], "entries"),
    ("state", "GET", [("substates", "disk")], "substates"),
    ("load", "GET", [("brokerid", "1")], "brokerid"),  # partition_load's, not load's
])
def test_a_bad_parameter_is_a_400_naming_it(endpoint, method, query, named):
    error = refused(endpoint, method, query)
    assert error.parameter == named
    body = error.as_json()
    assert body["errorMessage"].startswith(f"{named}: ") and body["version"] == JSON_VERSION
    assert set(body) == {"errorMessage", "stackTrace", "version"}


def test_an_endpoint_takes_only_its_method():
    assert "takes POST requests" in str(refused("rebalance", "GET", []))
    assert "unknown endpoint" in str(refused("bootstrap", "GET", []))


def test_a_cruise_control_endpoint_not_served_here_is_refused_saying_why():
    error = refused("topic_configuration", "POST", [("topic", "orders"), ("replication_factor", "3")])
    assert str(error).startswith("topic_configuration is not supported by kafka-medic: changing topics' "
                                 "replication factor needs a topic-replication remediation")


def test_admin_switches_self_healing_per_cruise_control_anomaly_type_onto_anomaly_kinds():
    values = parse("admin", "POST", [("disable_self_healing_for", "goal_violation,broker_failure"),
                                     ("enable_self_healing_for", "DISK_FAILURE,metric_anomaly")])
    assert self_healing_switches(values) == [
        SelfHealingSwitch(True, ["DISK_FAILURE", "METRIC_ANOMALY"], ["disk_failure"]),
        SelfHealingSwitch(False, ["BROKER_FAILURE", "GOAL_VIOLATION"],
                          ["broker_failure", "hard_goal_violation", "soft_goal_violation"])]
    assert self_healing_switches(parse("admin", "POST", [("drop_recently_removed_brokers", "4")])) == []


@pytest.mark.parametrize(("query", "named", "says"), [
    ([("disable_self_healing_for", "goal_violation,no_such")], "disable_self_healing_for",
     "unknown anomaly type 'NO_SUCH'; valid: GOAL_VIOLATION, BROKER_FAILURE"),
    ([("enable_self_healing_for", "disk_failure"), ("disable_self_healing_for", "DISK_FAILURE")],
     "disable_self_healing_for", "DISK_FAILURE both enabled and disabled"),
    ([("concurrent_leader_movements", "100")], "concurrent_leader_movements", "not supported: leaders move in one"),
])
def test_admin_refuses_an_unknown_anomaly_type_and_runtime_concurrency_naming_the_parameter(query, named, says):
    with pytest.raises(ParameterError) as caught:
        self_healing_switches(parse("admin", "POST", query))
    assert caught.value.parameter == named and str(caught.value).startswith(f"{named}: ")
    assert says in str(caught.value)


def test_an_execution_request_becomes_its_kinds_form_and_is_checked_against_the_cluster():
    values = parse("remove_broker", "POST", [("brokerid", "2"), ("dryrun", "false"), ("replication_throttle",
                                                                                     str(5 * MB)),
                                             ("destination_broker_ids", "1")])
    form = form_values("remove_broker", values, state())
    assert form == {"dry_run": False, "throttle_mb_s": 5.0, "brokers": [2], "excluded_brokers": [2, 3]}
    request = checked_request("remove_broker", form, {}, state())
    assert (request.kind, request.brokers, request.throttle_mb_s) == ("decommission", [2], 5.0)
    assert form_values("rebalance", {}, state()) == {"dry_run": True, "force": True}
    assert form_values("fix_offline_replicas", {"dryrun": False}, state()) == {}  # a heal has no form

    with pytest.raises(ParameterError) as caught:
        checked_request("remove_broker", {"brokers": [9]}, {}, state())
    assert caught.value.parameter == "brokerid" and "unknown broker 9" in str(caught.value)
    with pytest.raises(ParameterError) as caught:
        form_values("rebalance", {"destination_broker_ids": [7]}, state())
    assert caught.value.parameter == "destination_broker_ids"
    with pytest.raises(ParameterError) as caught:
        checked_request("add_broker", {"brokers": [3]}, {}, state())  # broker 3 is dead
    assert caught.value.parameter == "brokerid" and "not alive" in str(caught.value)


def test_broker_stats_sum_each_brokers_replicas_and_leaders():
    stats = responses.broker_stats(model())
    by_id = {b["Broker"]: b for b in stats["brokers"]}
    assert (by_id[1]["Replicas"], by_id[1]["Leaders"], by_id[1]["DiskMB"]) == (3, 2, 450.0)
    assert (by_id[1]["LeaderNwInRate"], by_id[1]["FollowerNwInRate"], by_id[1]["NwOutRate"]) == (20.0, 10.0, 40.0)
    assert by_id[1]["PnwOutRate"] == 60.0 and by_id[1]["DiskPct"] == 45.0
    assert by_id[1]["CpuPct"] == pytest.approx(23.0)  # leaders' 10 + 10, a follower's 10 x 0.3
    assert by_id[3]["BrokerState"] == "DEAD"
    hosts = {h["Host"]: h for h in stats["hosts"]}
    assert hosts["h1"]["Brokers"] == 2 and hosts["h1"]["Replicas"] == 5  # brokers 1 and 2 share host h1


def test_partition_load_is_highest_first_and_filtered():
    records = responses.partition_load(model(), "disk")["records"]
    assert [(r["topic"], r["partition"], r["disk"]) for r in records] == [("t", 1, 300.0), ("t", 0, 100.0),
                                                                          ("u", 0, 50.0)]
    assert records[0]["leader"] == 2 and records[0]["followers"] == [1]
    assert len(responses.partition_load(model(), "disk", entries=1)["records"]) == 1
    only_u = responses.partition_load(model(), "disk", topic=topic_regex("u"))["records"]
    assert [r["topic"] for r in only_u] == ["u"]
    assert responses.partition_load(model(), brokers=[3])["records"][0]["topic"] == "u"


def test_kafka_cluster_state_counts_per_broker_and_lists_unhealthy_partitions():
    body = responses.kafka_cluster_state(state())
    brokers, partitions = body["KafkaBrokerState"], body["KafkaPartitionState"]
    assert brokers["ReplicaCountByBrokerId"] == {"1": 3, "2": 2, "3": 1}
    assert brokers["LeaderCountByBrokerId"] == {"1": 2, "2": 1, "3": 0}
    assert brokers["OutOfSyncCountByBrokerId"] == {"1": 1, "2": 0, "3": 1}
    assert brokers["IsController"] == {"1": True, "2": False, "3": False}
    assert brokers["Summary"]["Brokers"] == 3 and brokers["Summary"]["Replicas"] == 6
    assert [(p["topic"], p["partition"]) for p in partitions["urp"]] == [("t", 1), ("u", 0)]
    assert [p["topic"] for p in partitions["with-offline-replicas"]] == ["u"]  # broker 3 is dead
    assert [(p["topic"], p["partition"], p["min-isr"]) for p in partitions["under-min-isr"]] == [("t", 1, 2)]


def test_an_optimization_result_has_the_moves_the_goals_and_the_load_after():
    proposal = Proposal("c", ["replica_distribution"], [Move("u", 0, [1, 3], [1, 2], 1, 1)], stats={
        "num_replica_moves": 1, "num_leader_moves": 0, "data_to_move_mb": 50.0, "balancedness_before": 80.0,
        "balancedness_after": 95.0,
        "goal_results_before": [{"goal": "replica_distribution", "satisfied": False},
                                {"goal": "rack_aware", "satisfied": True}],
        "goal_results_after": [{"goal": "replica_distribution", "satisfied": True},
                               {"goal": "rack_aware", "satisfied": True}]})
    body = responses.optimization_result(proposal, model(), loads(), excluded_topics="x.*")
    assert body["proposals"] == [{"topicPartition": {"topic": "u", "partition": 0}, "oldLeader": 1, "newLeader": 1,
                                  "oldReplicas": [1, 3], "newReplicas": [1, 2]}]
    assert [(g["goal"], g["status"]) for g in body["goalSummary"]] == [("replica_distribution", "FIXED"),
                                                                       ("rack_aware", "NO-ACTION")]
    summary = body["summary"]
    assert (summary["numReplicaMovements"], summary["dataToMoveMB"], summary["excludedTopics"]) == (1, 50.0, ["x.*"])
    assert (summary["onDemandBalancednessScoreBefore"], summary["recentWindows"]) == (80.0, 3)
    before = {b["Broker"]: b["Replicas"] for b in body["loadBeforeOptimization"]["brokers"]}
    after = {b["Broker"]: b["Replicas"] for b in body["loadAfterOptimization"]["brokers"]}
    assert (before[2], before[3], after[2], after[3]) == (2, 1, 3, 0)


def test_state_substates():
    monitor = responses.monitor_state(loads(ratio=0.5), 10, paused=True)
    assert (monitor["state"], monitor["numValidPartitions"], monitor["monitoringCoveragePct"]) == ("PAUSED", 5, 50.0)
    analyzer = responses.analyzer_state(["rack_aware"], loads(valid_windows=5, ratio=1.0))
    assert analyzer["isProposalReady"] and analyzer["readyGoals"] == ["rack_aware"]
    assert responses.analyzer_state(["rack_aware"], loads())["readyGoals"] == []
    assert responses.executor_state(None, [], [])["state"] == "NO_TASK_IN_PROGRESS"
    dead = Anomaly(BROKER_FAILURE, "broker_failure:3", "critical", "broker 3 is dead", first_seen=1.5, brokers=[3])
    detector = responses.anomaly_detector_state([dead], {"BROKER_FAILURE": True, "GOAL_VIOLATION": False}, None)
    assert [a["anomalyId"] for a in detector["recentBrokerFailures"]] == ["broker_failure:3"]
    assert (detector["selfHealingEnabled"], detector["selfHealingDisabled"]) == (["BROKER_FAILURE"], ["GOAL_VIOLATION"])


def test_a_user_task_is_found_again_by_its_session_until_its_result_is_delivered():
    tasks = UserTasks(workers=1)
    release = threading.Event()
    task = tasks.submit("s1", "proposals", "/proposals", "127.0.0.1", lambda t: release.wait(10) and {"ok": 1})
    assert not wait(task, 0.05) and task.status == ACTIVE
    progress = task.progress()["progress"][0]
    assert progress["operation"] == "proposals" and progress["operationProgress"][0]["step"] == "queued"
    assert tasks.submit("s1", "proposals", "/proposals", "", lambda t: {}) is task  # the client polling
    assert tasks.submit("s2", "proposals", "/proposals", "", lambda t: {}) is not task  # another session
    release.set()
    assert wait(task, 5) and task.status == COMPLETED and task.future.result() == {"ok": 1}
    assert tasks.submit("s1", "proposals", "/proposals", "", lambda t: {}) is task  # finished, not yet delivered
    task.delivered = True
    again = tasks.submit("s1", "proposals", "/proposals", "", lambda t: 1 / 0)
    assert again is not task and wait(again, 5) and again.status == COMPLETED_WITH_ERROR
    assert tasks.get(task.id) is task and tasks.get("nope") is None


def test_finished_tasks_are_kept_up_to_a_bound():
    tasks = UserTasks(workers=1, keep=3)
    made = [tasks.submit(str(i), "load", "/load", "", lambda t: {}) for i in range(5)]
    assert [t.id for t in tasks.all()] == [t.id for t in made[2:]]


def test_the_schema_lists_every_endpoint_with_its_parameters():
    body = openapi.schema("dev", "/kafka-medic/dev/kafkacruisecontrol")
    assert body["servers"] == [{"url": "/kafka-medic/dev/kafkacruisecontrol"}]
    assert set(body["paths"]) == {f"/{name}" for name in ENDPOINTS}
    rebalance = body["paths"]["/rebalance"]["post"]
    params = {p["name"]: p for p in rebalance["parameters"]}
    assert params["dryrun"]["schema"] == {"type": "boolean"} and params["goals"]["schema"]["type"] == "array"
    assert params["verbose"]["description"] == "accepted; no effect"
    assert body["paths"]["/remove_broker"]["post"]["parameters"][0]["required"] is False
    assert {p["name"] for p in body["paths"]["/remove_broker"]["post"]["parameters"] if p["required"]} == {"brokerid"}
    assert set(rebalance["responses"]) >= {"200", "202", "400", "401", "403"}
    assert body["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_admin_concurrency_changes_the_running_execution_or_is_a_400_naming_it(tmp_path):
    from kafka_medic.ccapi import reads
    from kafka_medic.executor.journal import Journal
    from kafka_medic.executor.options import ExecutionOptions

    from .test_executor_journal import PROPOSAL, TASKS

    url = f"sqlite:///{tmp_path / 'store.db'}"
    cluster = reads.Cluster(name="c", config=None, model_of=None, store_url=url)  # type: ignore[arg-type]
    assert self_healing_switches(parse("admin", "POST", [("concurrent_partition_movements_per_broker", "5")])) == []
    with pytest.raises(ParameterError) as caught:
        reads.change_concurrency(cluster, 5, print)
    assert caught.value.parameter == "concurrent_partition_movements_per_broker"
    assert str(caught.value) == "concurrent_partition_movements_per_broker: no execution is running on cluster 'c'"
    with Journal(url) as journal:
        execution_id = journal.create("c", PROPOSAL, ExecutionOptions(concurrency=2), TASKS)
    said = reads.change_concurrency(cluster, 5, print)
    assert said == "the running execution's concurrency set to 5 moves per broker from its next poll"
    with Journal(url) as journal:
        assert journal.get(execution_id).options.concurrency == 5
