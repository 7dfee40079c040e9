"""The planner: goals in priority order, optimized by moving replicas and leadership."""

from kafka_medic.optimizer.balancedness import balancedness
from kafka_medic.optimizer.plan import PlanOptions, plan
from kafka_medic.optimizer.search import PlanError
from kafka_medic.optimizer.summary import render_summary

__all__ = ["PlanError", "PlanOptions", "balancedness", "plan", "render_summary"]
