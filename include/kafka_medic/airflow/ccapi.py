"""Cruise Control's REST API over the DAGs: /kafka-medic/<cluster>/kafkacruisecontrol/<endpoint> in the plugin.

The protocol (parameters, bodies, user tasks, schema) is `kafka_medic.ccapi`; this router adds what needs
Airflow. Every route asks Airflow's auth manager, with the REST API's own bearer token, for access to the
cluster's DAGs: reading needs view access to all of them, an action the right the same action needs in the
UI (triggering the kind's DAG, pausing the sample DAG, answering the approval). In the demo's all-admins
mode the api-server adds a token to every request, so the demo stays open.

GETs and dry runs (`dryrun=true`, the default, as in Cruise Control) are answered in-process; a request
that outlasts KAFKA_MEDIC_CCAPI_MAX_BLOCK_MS (Cruise Control's `webserver.request.maxBlockTimeMs`,
10 s) gets 202 with its progress, a User-Task-ID and a session cookie, and its result on a later request.
`dryrun=false` triggers the kind's DAG run in-process with the request as its form, so it shows in the UI,
waits for its approval and is logged; its run id is the User-Task-ID and the review id. `review` answers
that approval (`kafka_medic.airflow.hitl`), `stop_proposal_execution` is the executor's stop, and
`pause_sampling` / `resume_sampling` pause and unpause the cluster's sample DAG.

`admin`: `disable_self_healing_for` / `enable_self_healing_for` switch self-healing per Cruise Control anomaly
type, that is per kafka-medic anomaly kind of that type (`kafka_medic.remediation.intent`): the detector
starts no remediation for a kind switched off and says why, while maintenance (`kafka-medic maintenance`)
pauses everything automated. `drop_recently_removed_brokers` / `drop_recently_demoted_brokers` re-add
remembered brokers (the maintenance DAG, so it is logged as a run). `concurrent_partition_movements_per_broker`
changes the running execution's concurrency from its next poll (`reads.change_concurrency`, the executor's
`change_options`, as `kafka-medic execution set`); `concurrent_leader_movements` is refused
(`kafka_medic.ccapi.mapping.self_healing_switches` says why).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
from airflow.api_fastapi.auth.managers.models.batch_apis import IsAuthorizedDagRequest
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from kafka_medic.airflow import ids
from kafka_medic.airflow.clusters import ManagedCluster, load_clusters
from kafka_medic.airflow.hitl import answer
from kafka_medic.ccapi import CC_VERSION, JSON_VERSION, openapi, reads, responses
from kafka_medic.ccapi.mapping import KIND_OF, self_healing_switches
from kafka_medic.ccapi.params import ParameterError, error_json, parse
from kafka_medic.ccapi.tasks import ACTIVE, COMPLETED, COMPLETED_WITH_ERROR, UserTask, UserTasks, wait
from kafka_medic.errors import MedicError
from kafka_medic.remediation.kinds import KINDS

PREFIX = "/{cluster}/kafkacruisecontrol"
MAX_BLOCK_ENV = "KAFKA_MEDIC_CCAPI_MAX_BLOCK_MS"
SESSION_COOKIE = "JSESSIONID"  # Jetty's, which Cruise Control's clients keep between polls
TASK_HEADER = "User-Task-ID"
RUN_STATUS = {"queued": ACTIVE, "running": ACTIVE, "success": COMPLETED, "failed": COMPLETED_WITH_ERROR}
REVIEW_STATUS = {"awaiting_input": "PENDING_REVIEW", "success": "APPROVED", "skipped": "DISCARDED"}
ENDPOINT_OF = {kind: endpoint for endpoint, kind in KIND_OF.items()}

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX)
user_tasks = UserTasks()


def _max_block_s() -> float:
    return float(os.environ.get(MAX_BLOCK_ENV) or 10_000) / 1000


def _headers(task_id: str | None = None) -> dict[str, str]:
    return {"Cruise-Control-Version": CC_VERSION, **({TASK_HEADER: task_id} if task_id else {})}


def _answer(body: dict[str, Any], status: int = 200, task_id: str | None = None, session: str | None = None):
    response = JSONResponse(body, status_code=status, headers=_headers(task_id))
    if session:
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
    return response


def _error(status: int, message: str) -> JSONResponse:
    return _answer(error_json(message), status)


def _cluster(name: str) -> ManagedCluster:
    from airflow.configuration import conf

    default = Path(conf.get("core", "dags_folder")) / "clusters.json"
    found = next((c for c in load_clusters(default) if c.name == name and not c.policy_error), None)
    if found is None:
        raise HTTPException(404, f"no managed cluster {name!r}")
    return found


def _authorize(user, cluster: ManagedCluster, method: ResourceMethod, entity: DagAccessEntity | None,
               kinds: list[str]) -> None:
    """The user may do `method` on `entity` of each of the cluster's DAGs `kinds` (all its DAGs: every kind)."""
    from airflow.api_fastapi.app import get_auth_manager

    requests = [IsAuthorizedDagRequest(method=method, access_entity=entity, details=DagDetails(id=cluster.dag_id(kind)))
                for kind in kinds]
    if not get_auth_manager().batch_is_authorized_dag(requests, user=user):
        raise HTTPException(403, "Forbidden")


def _all_kinds() -> list[str]:
    return ["sample", "detect", "maintenance", *KINDS]


def _context(cluster: ManagedCluster) -> reads.Cluster:
    """The cluster as the endpoints need it: its connection's settings, its policy, and the DAGs' model builder."""
    from kafka_medic.airflow.steps import cluster_model, settings

    s = settings(cluster.name, cluster.conn_id)
    return reads.Cluster(name=cluster.name, config=s.config, policy=cluster.policy, remediation=s.remediation,
                         model_of=lambda state: cluster_model(s, state, cluster.policy))


async def _in_process(request: Request, endpoint: str, work: Callable[[UserTask], dict[str, Any]]) -> JSONResponse:
    """Run `work` as a user task; its result if it ends within the block time, else 202 with its progress."""
    task_id = request.headers.get(TASK_HEADER)
    session = request.cookies.get(SESSION_COOKIE) or uuid.uuid4().hex
    if task_id:
        task = user_tasks.get(task_id)
        if task is None:
            raise ParameterError(TASK_HEADER, f"no user task {task_id[:64]!r} (finished ones are kept for a while)")
    else:
        client = request.client.host if request.client else ""
        task = user_tasks.submit(session, endpoint, str(request.url), client, work)
    done = await asyncio.to_thread(wait, task, _max_block_s())
    if not done:
        return _answer(task.progress(), 202, task.id, session)
    task.delivered = True
    exc = task.future.exception()
    if isinstance(exc, ParameterError):
        return _answer(exc.as_json(), 400, task.id, session)
    if isinstance(exc, MedicError):
        return _answer(error_json(str(exc)), 500, task.id, session)
    if exc is not None:
        log.error("%s failed", endpoint, exc_info=exc)
        return _answer(error_json(f"{endpoint} failed: {type(exc).__name__}"), 500, task.id, session)
    return _answer(task.future.result(), 200, task.id, session)


def _parsed(request: Request, endpoint: str) -> dict[str, Any]:
    return parse(endpoint, request.method, list(request.query_params.multi_items()))


def _guarded(handler):
    """CC-style errors: a ParameterError is a 400 and an HTTPException keeps its status, both as CC's JSON."""
    @functools.wraps(handler)
    async def wrapper(*args, **kwargs):
        try:
            return await handler(*args, **kwargs)
        except ParameterError as exc:
            return _answer(exc.as_json(), 400)
        except HTTPException as exc:
            return _error(exc.status_code, str(exc.detail))
        except MedicError as exc:  # the cluster or a store could not answer; the request may be fine
            return _error(500, str(exc))
    return wrapper


@router.get("/openapi.json")
@_guarded
async def openapi_schema(cluster: str, user: GetUserDep) -> JSONResponse:
    managed = _cluster(cluster)
    _authorize(user, managed, "GET", None, _all_kinds())
    return _answer(openapi.schema(managed.name, f"/kafka-medic/{managed.name}/kafkacruisecontrol"))


READS: dict[str, Callable[[reads.Cluster, dict[str, Any]], dict[str, Any]]] = {
    "load": reads.load, "partition_load": reads.partition_load, "kafka_cluster_state": reads.kafka_cluster_state,
}


@router.get("/{endpoint}")
@_guarded
async def get(cluster: str, endpoint: str, request: Request, user: GetUserDep) -> JSONResponse:
    managed = _cluster(cluster)
    _authorize(user, managed, "GET", None, _all_kinds())
    values = _parsed(request, endpoint)
    if endpoint == "user_tasks":
        return _answer(await run_in_threadpool(_user_tasks, managed, values))
    if endpoint == "review_board":
        wanted = set(values.get("review_ids") or [])
        reviews = [r for r in await run_in_threadpool(_reviews, managed) if not wanted or r["Id"] in wanted]
        return _answer({"version": JSON_VERSION, "RequestInfo": reviews})
    context = await run_in_threadpool(_context, managed)
    if endpoint == "state":
        paused = await run_in_threadpool(_paused, managed.dag_id("sample"))
        return await _in_process(request, endpoint, lambda task: reads.state(
            context, values, paused, lambda execution_id: _run_of_execution(managed, execution_id)))
    if endpoint == "proposals":
        return await _in_process(request, endpoint, lambda task: reads.dry_run(
            context, "rebalance", {**values, "dryrun": True}))
    return await _in_process(request, endpoint, lambda task: READS[endpoint](context, values))


@router.post("/{endpoint}")
@_guarded
async def post(cluster: str, endpoint: str, request: Request, user: GetUserDep) -> JSONResponse:
    managed = _cluster(cluster)
    values = _parsed(request, endpoint)
    if endpoint in KIND_OF:
        kind = KIND_OF[endpoint]
        _authorize(user, managed, "POST", DagAccessEntity.RUN, [kind])
        context = await run_in_threadpool(_context, managed)
        if values.get("dryrun", True):
            return await _in_process(request, endpoint, lambda task: reads.dry_run(context, endpoint, values))
        form = await run_in_threadpool(reads.check, context, endpoint, values)
        run_id = await run_in_threadpool(_trigger, managed.dag_id(kind), form, user.get_name())
        entry = responses.review(run_id, int(time.time() * 1000), "SUBMITTED", _described(endpoint, values),
                                 values.get("reason", ""))
        return _answer({"version": JSON_VERSION, "RequestInfo": [entry]}, 200, run_id)
    if endpoint == "review":
        _authorize(user, managed, "PUT", DagAccessEntity.HITL_DETAIL, list(KINDS))
        return _answer(await run_in_threadpool(_review, managed, values, user))
    if endpoint in ("pause_sampling", "resume_sampling"):
        _authorize(user, managed, "PUT", None, ["sample"])
        paused = endpoint == "pause_sampling"
        await run_in_threadpool(_set_paused, managed.dag_id("sample"), paused)
        verb = "paused" if paused else "resumed"
        return _answer({"version": JSON_VERSION, "message": f"Metric sampling {verb} on cluster {managed.name}: "
                                                             f"DAG {managed.dag_id('sample')} {verb}."})
    if endpoint == "stop_proposal_execution":
        _authorize(user, managed, "PUT", DagAccessEntity.RUN, list(KINDS))
        context = await run_in_threadpool(_context, managed)
        return await _in_process(request, endpoint, lambda task: reads.stop(context, values, log.info))
    _authorize(user, managed, "POST", DagAccessEntity.RUN, ["maintenance"])
    return await run_in_threadpool(_admin, managed, values, user.get_name())


def _described(endpoint: str, values: dict[str, Any]) -> str:
    return f"POST /{endpoint}?" + "&".join(f"{k}={v}" for k, v in values.items())


def _trigger(dag_id: str, conf: dict[str, Any], user_name: str) -> str:
    """Trigger the DAG run as the REST API does, with its own function; its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.REST_API, triggering_user_name=user_name,
                      run_id=f"ccapi__{stamp}", conf=conf, note="started through the Cruise Control API")
    if run is None:
        raise MedicError(f"DAG {dag_id} started no run")
    log.info("triggered %s run %s for %s: %s", dag_id, run.run_id, user_name, conf)
    return run.run_id


def _paused(dag_id: str) -> bool:
    from airflow.models.dag import DagModel

    model = DagModel.get_dagmodel(dag_id)
    return bool(model and model.is_paused)


def _set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, dag_id)
        if model is None:
            raise HTTPException(404, f"DAG {dag_id} is not there (yet): its DAG file has not been parsed")
        model.is_paused = paused


def _runs(cluster: ManagedCluster, limit: int) -> list[Any]:
    """The cluster's remediation and maintenance DAG runs, newest first."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_ids = [cluster.dag_id(kind) for kind in [*KINDS, "maintenance"]]
    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id.in_(dag_ids)).order_by(DagRun.id.desc()).limit(limit)
        runs = list(session.scalars(query))
        session.expunge_all()
    return runs


def _user_tasks(cluster: ManagedCluster, values: dict[str, Any]) -> dict[str, Any]:
    """UserTaskState: this api-server's in-process requests for the cluster, and the cluster's DAG runs."""
    prefix = f"/kafka-medic/{cluster.name}/"
    rows = [responses.user_task(t.id, t.endpoint, t.request_url, t.client, t.started_ms, t.status)
            for t in user_tasks.all() if prefix in t.request_url]
    for run in _runs(cluster, values.get("entries", 100)):
        kind = run.dag_id.rsplit("__", 1)[-1]
        started = run.start_date or run.queued_at or run.run_after
        rows.append(responses.user_task(
            run.run_id, ENDPOINT_OF.get(kind, kind), f"/dags/{run.dag_id}/runs/{run.run_id}",
            run.triggering_user_name or str(run.run_type), int(started.timestamp() * 1000) if started else 0,
            RUN_STATUS.get(str(run.state), ACTIVE)))
    for name, key in (("user_task_ids", "UserTaskId"), ("endpoints", "RequestEndpoint"), ("types", "Status"),
                      ("client_ids", "ClientIdentity")):
        if values.get(name):
            wanted = {v.lower() for v in values[name]}
            rows = [r for r in rows if str(r[key]).lower() in wanted]
    rows.sort(key=lambda r: -int(r["StartMs"]))
    return {"version": JSON_VERSION, "userTasks": rows[:values.get("entries")]}


def _approvals(cluster: ManagedCluster) -> list[Any]:
    """The approve task of each of the cluster's remediation runs that reached it, newest first."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_ids = [cluster.dag_id(kind) for kind in KINDS]
    with create_session() as session:
        query = (select(TaskInstance).where(TaskInstance.dag_id.in_(dag_ids), TaskInstance.task_id == ids.APPROVE,
                                            TaskInstance.state.in_(list(REVIEW_STATUS)))
                 .order_by(TaskInstance.start_date.desc()).limit(100))
        tis = list(session.scalars(query))
        session.expunge_all()
    return tis


def _reviews(cluster: ManagedCluster) -> list[dict[str, Any]]:
    rows = []
    for ti in _approvals(cluster):
        kind = ti.dag_id.rsplit("__", 1)[-1]
        started = int(ti.start_date.timestamp() * 1000) if ti.start_date else 0
        rows.append(responses.review(ti.run_id, started, REVIEW_STATUS[str(ti.state)], ENDPOINT_OF.get(kind, kind),
                                     f"{ti.dag_id} run {ti.run_id}"))
    return rows


def _review(cluster: ManagedCluster, values: dict[str, Any], user) -> dict[str, Any]:
    """Answer each named run's waiting approval: approve, or discard (reject)."""
    decisions = [(run_id, True) for run_id in values.get("approve") or []] + \
                [(run_id, False) for run_id in values.get("discard") or []]
    if not decisions:
        raise ParameterError("approve", "name the review ids (run ids) to approve or discard")
    waiting = {ti.run_id: ti for ti in _approvals(cluster) if str(ti.state) == "awaiting_input"}
    answered = []
    for run_id, approve in decisions:
        ti = waiting.get(run_id)
        if ti is None:
            raise ParameterError("approve" if approve else "discard",
                                 f"no run {run_id[:100]!r} of cluster {cluster.name} waits for approval")
        answer(ti.dag_id, ti.run_id, ti.task_id, approve, user, ti.map_index)
        log.info("%s %s run %s through the Cruise Control API", "approved" if approve else "discarded",
                 ti.dag_id, run_id)
        answered.append(responses.review(run_id, int(time.time() * 1000), "APPROVED" if approve else "DISCARDED",
                                         ti.dag_id, values.get("reason", "")))
    return {"version": JSON_VERSION, "RequestInfo": answered}


def _run_of_execution(cluster: ManagedCluster, execution_id: str) -> str:
    """The DAG run whose set_throttles task started the execution (its return value is the execution id)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag_ids = [cluster.dag_id(kind) for kind in KINDS]
    with create_session() as session:
        query = (select(XComModel.run_id, XComModel.value).where(
            XComModel.dag_id.in_(dag_ids), XComModel.task_id == ids.SET_THROTTLES, XComModel.key == "return_value")
            .order_by(XComModel.timestamp.desc()).limit(50))
        for run_id, value in session.execute(query):
            if execution_id in str(value):
                return run_id
    return ""


def _admin(cluster: ManagedCluster, values: dict[str, Any], user_name: str) -> JSONResponse:
    """What of Cruise Control's admin exists here: self-healing per anomaly type, re-adding remembered brokers."""
    from kafka_medic.remediation.intent import IntentStore

    switches = self_healing_switches(values)
    readd = sorted({*values.get("drop_recently_removed_brokers", []), *values.get("drop_recently_demoted_brokers", [])})
    concurrency = values.get("concurrent_partition_movements_per_broker")
    if not readd and not switches and concurrency is None:
        raise ParameterError("", "admin: give enable_self_healing_for, disable_self_healing_for, "
                                 "drop_recently_removed_brokers / drop_recently_demoted_brokers or "
                                 "concurrent_partition_movements_per_broker")
    reason = values.get("reason") or "Cruise Control API admin request"
    said = []
    if concurrency is not None:
        said.append(reads.change_concurrency(_context(cluster), concurrency, log.info))
    with IntentStore() as intents:
        for switch in switches:
            intents.set_self_healing(cluster.name, switch.kinds, switch.on, reason, f"ccapi:{user_name}")
            said.append(f"self-healing {'enabled' if switch.on else 'disabled'} for {','.join(switch.types)} "
                        f"(anomaly kinds: {', '.join(switch.kinds) or 'none here'})")
            log.info("%s on %s by %s", said[-1], cluster.name, user_name)
    run_id = None
    if readd:
        run_id = _trigger(cluster.dag_id("maintenance"), {"readd_brokers": readd, "reason": reason}, user_name)
        said.append(f"maintenance run {run_id} started to re-add brokers {readd}")
    return _answer({"version": JSON_VERSION, "message": "; ".join(said)}, 200, run_id)
