"""The cluster policy: every bad value is one line naming the field and what is valid; good ones reach
the thresholds, the forms' defaults and the requests."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import DEFAULT_CAPACITY_THRESHOLDS
from kafka_medic.remediation.policy import ClusterPolicy, parse_policy


@pytest.mark.parametrize(("policy", "message"), [
    ({"throttle": 0}, "policy.throttle: must be a positive number, got 0"),
    ({"throttle": "fast"}, "policy.throttle: must be a number of MB/s, 'auto' or null, got 'fast'"),
    ({"concurrency": 0}, "policy.concurrency: must be an integer from 1 to 2000, got 0"),
    ({"concurrency": 2.5}, "policy.concurrency: must be an integer from 1 to 2000, got 2.5"),
    ({"goals": ["disk_capacity", "no_such_goal"]}, "policy.goals: unknown goal 'no_such_goal'; known goals: "),
    ({"goals": "disk_capacity"}, "policy.goals: must be a list of goal names in priority order"),
    ({"capacity_threshold": 1.5}, "policy.capacity_threshold: must be <= 1, got 1.5; give a fraction in (0, 1]"),
    ({"capacity_threshold": {"gpu": 0.5}}, "policy.capacity_threshold: unknown resource 'gpu'; valid: disk, nw_in"),
    ({"capacity_threshold": {"cpu": -1}}, "policy.capacity_threshold: each resource's must be a positive number"),
    ({"balance_band": 0}, "policy.balance_band: must be a positive number, got 0"),
    ({"load_windows": 0}, "policy.load_windows: must be an integer from 1 to 336, got 0"),
    ({"window_minutes": 1441}, "policy.window_minutes: must be an integer from 1 to 1440, got 1441"),
    ({"load_statistic": "median"}, "policy.load_statistic: must be one of mean, p95, max, got 'median'"),
    ({"rebalance_on_incomplete_load": "yes"}, "policy.rebalance_on_incomplete_load: must be true or false, got 'yes'"),
    ({"heal_only": 1}, "policy.heal_only: must be true or false, got 1"),
    ({"intent_ttl_hours": -2}, "policy.intent_ttl_hours: must be a positive number, got -2"),
    ({"max_attempts": 0}, "policy.max_attempts: must be an integer from 1 to 1000, got 0"),
    ({"attempt_period_hours": 0}, "policy.attempt_period_hours: must be a positive number, got 0"),
    ({"notifiers": {"class": "a.B"}}, 'policy.notifiers: must be a list of {"class": "package.module.Notifier"'),
    ({"notifiers": [{"class": "SmtpNotifier"}]}, "policy.notifiers: [0].class must be a dotted class path"),
    ({"notifiers": [{"class": "a.B", "kwargs": [1]}]}, "policy.notifiers: [0].kwargs must be an object"),
    ({"notifiers": [{"class": "a.B", "args": {}}]}, 'policy.notifiers: [0] must be an object with "class"'),
    ({"throttel": 5}, "policy.throttel: unknown field; valid: throttle, concurrency, goals"),
    ([1, 2], "policy: must be an object with fields throttle, concurrency"),
])
def test_a_bad_value_is_one_line_naming_the_field_and_what_is_valid(policy, message):
    with pytest.raises(MedicError) as error:
        parse_policy(policy)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_no_policy_is_the_defaults_24_windows_of_an_hour_and_no_planning_on_partial_loads():
    policy = parse_policy(None)
    assert policy == ClusterPolicy() == parse_policy({})
    assert (policy.load_windows, policy.window_minutes, policy.load_statistic) == (24, 60, "mean")
    assert policy.rebalance_on_incomplete_load is False and policy.throttle is None
    assert policy.thresholds().capacity == DEFAULT_CAPACITY_THRESHOLDS


def test_a_policy_gives_thresholds_and_request_defaults():
    policy = parse_policy({"throttle": 40, "concurrency": 3, "goals": ["rack_aware", "disk_capacity"],
                           "capacity_threshold": {"disk": 0.6}, "balance_band": 0.2})
    thresholds = policy.thresholds()
    assert thresholds.capacity == {**DEFAULT_CAPACITY_THRESHOLDS, "disk": 0.6}
    assert (thresholds.balance_lower, thresholds.balance_upper) == pytest.approx((0.8, 1.2))
    assert policy.request_defaults() == {
        "throttle_mb_s": 40.0, "auto_throttle": False, "concurrency": 3, "goals": ["rack_aware", "disk_capacity"],
        "capacity_threshold": {**DEFAULT_CAPACITY_THRESHOLDS, "disk": 0.6}, "balance_band": 0.2, "heal_only": False}
    assert parse_policy(policy.as_dict()) == policy  # the form the DAG factory hands to tasks
    auto = parse_policy({"throttle": "auto", "capacity_threshold": 0.5}).request_defaults()
    assert (auto["throttle_mb_s"], auto["auto_throttle"]) == (None, True)
    assert auto["capacity_threshold"] == dict.fromkeys(DEFAULT_CAPACITY_THRESHOLDS, 0.5)


def test_attempts_and_notifiers_round_trip_through_the_dags_json_form():
    smtp = "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
    data = {"max_attempts": 2, "attempt_period_hours": 6, "notifiers": [{"class": smtp, "kwargs": {"to": "ops@x"}}]}
    policy = parse_policy(data)
    assert (policy.max_attempts, policy.attempt_period_hours) == (2, 6)
    assert parse_policy(policy.as_dict()) == policy
    assert policy.as_dict()["notifiers"] == [{"class": smtp, "kwargs": {"to": "ops@x"}}]
    assert parse_policy(None).max_attempts is None  # no limit unless the policy sets one
