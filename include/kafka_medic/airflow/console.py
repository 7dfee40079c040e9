"""The operator console's routes, included in the plugin's app at /kafka-medic: who may see what, and Stop.

Airflow 3 does not authenticate a plugin's FastAPI app, so every route asks for the user itself through the
REST API's own `get_user`: a bearer token if the request has one, else the `_token` cookie that Airflow's
UI login sets for its own origin. A browser that is logged in to Airflow therefore reaches these pages,
inside Airflow's navigation (the plugin's external view, an iframe of the same origin) or opened on their
own, and anything else gets a 401 (no credential) or 403 (a bad one), never a page.

Permissions are the cluster's DAGs' (`kafka_medic__<cluster>__*`, as the auth manager answers for them):
reading all of them to view the cluster, editing all of them to Stop. The front page lists only the
clusters the user may read. Stop is a form POST authenticated by a cookie, so it also requires the
browser's Origin to be this server's (another site cannot make a logged-in browser stop an execution); so
does the running execution's throttle and concurrency form (POST /<cluster>/execution, `executor.run.change_options`).

Stop is the executor's own `executor.run.stop`: it asks the running executor to stop (roll back the moves in
flight, clear the throttles) and waits for it, or does the stop itself when no executor is alive.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar
from urllib.parse import parse_qs, urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.batch_apis import IsAuthorizedDagRequest
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import get_user
from airflow.configuration import conf
from airflow.models.dag import DagModel
from airflow.models.xcom import XCOM_RETURN_KEY, XComModel
from airflow.utils.session import create_session
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from kafka_medic.airflow import ids
from kafka_medic.airflow.clusters import ManagedCluster, load_clusters
from kafka_medic.airflow.hook import KafkaMedicHook
from kafka_medic.console import pages
from kafka_medic.console.cluster import cluster_view
from kafka_medic.console.overview import overview
from kafka_medic.console.partitions import heaviest
from kafka_medic.console.proposal import proposal_view
from kafka_medic.detector.snapshot import SnapshotLog
from kafka_medic.errors import MedicError
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.report import report_lines
from kafka_medic.executor.run import change_options, stop
from kafka_medic.limits import OutOfLimits
from kafka_medic.model import Proposal, parse_proposal
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.units import MB

log = logging.getLogger(__name__)

N = TypeVar("N", float, int)
STATIC = Path(__file__).parents[1] / "console" / "static"
MEDIA = {".js": "text/javascript", ".css": "text/css"}
STOP_WAIT_S = 180.0  # the executor notices a stop at its next poll, rolls back and clears throttles
User = Annotated[BaseUser, Depends(get_user)]

router = APIRouter()


def managed_clusters() -> list[ManagedCluster]:
    """clusters.json as the DAG file reads it: $KAFKA_MEDIC_CLUSTERS, else beside the DAGs."""
    return load_clusters(Path(conf.get("core", "dags_folder")) / "clusters.json")


def allowed(user: BaseUser, cluster: str, method: ResourceMethod) -> bool:
    """The auth manager allows `method` on every DAG of the cluster (its detect DAG before any is parsed)."""
    prefix = f"kafka_medic__{cluster}__"
    with create_session(scoped=False) as session:
        dag_ids = list(session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.startswith(prefix,
                                                                                                autoescape=True))))
        teams = DagModel.get_dag_id_to_team_name_mapping(dag_ids, session=session) if dag_ids else {}
    requests: list[IsAuthorizedDagRequest] = [{"method": method, "details": DagDetails(id=d, team_name=teams.get(d))}
                                              for d in dag_ids or [f"{prefix}detect"]]
    return get_auth_manager().batch_is_authorized_dag(requests, user=user)


def readable(user: BaseUser, name: str) -> ManagedCluster:
    """The managed cluster `name` if the user may read it: 404 if there is none, 403 if they may not."""
    cluster = next((c for c in managed_clusters() if c.name == name), None)
    if cluster is None:
        raise HTTPException(404, f"no managed cluster {name!r}")
    if not allowed(user, name, "GET"):
        raise HTTPException(403, f"not allowed to read the DAGs of cluster {name!r}")
    return cluster


@router.get("/", response_class=HTMLResponse)
def front(user: User) -> str:
    clusters = [(c.name, c.policy) for c in managed_clusters() if allowed(user, c.name, "GET")]
    return pages.front_page(overview(clusters))


@router.get("/_static/{name}")
def static(name: str, user: User) -> Response:
    path = STATIC / name
    if path.suffix not in MEDIA or path.parent != STATIC or not path.is_file():
        raise HTTPException(404, "no such file")
    return Response(path.read_bytes(), media_type=MEDIA[path.suffix],
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/{cluster}/", response_class=HTMLResponse)
def cluster_page(cluster: str, user: User, action: str | None = None) -> str:
    managed = readable(user, cluster)
    view = cluster_view(cluster, managed.policy, action=action)
    return pages.cluster_page(view, can_stop=allowed(user, cluster, "PUT"), action=action)


@router.get("/{cluster}/partitions", response_class=HTMLResponse)
def partitions_page(cluster: str, user: User, resource: str = "disk", topic: str = "", page: int = 1) -> str:
    readable(user, cluster)
    if resource not in RESOURCES:
        raise HTTPException(400, f"resource must be one of {', '.join(RESOURCES)}")
    with SnapshotLog() as snapshots:
        snapshot = snapshots.latest(cluster)
    if snapshot is None:
        raise HTTPException(404, f"no model snapshot of {cluster!r} yet: detect writes one each run")
    try:
        return pages.partitions_page(cluster, heaviest(snapshot, resource, topic, max(page, 1)))
    except OutOfLimits as exc:  # a bad regex: the page again, with every partition and the reason
        return pages.partitions_page(cluster, heaviest(snapshot, resource, "", 1), error=str(exc))


@router.get("/{cluster}/proposal/{ident}", response_class=HTMLResponse)
def proposal_page(cluster: str, ident: str, user: User, topic: str = "", page: int = 1) -> str:
    """The plan of execution `ident`, or of the cluster's DAG run `ident` (the approval's link, before the plan
    is executed: it is then only the run's plan XCom)."""
    readable(user, cluster)
    with Journal() as journal:
        try:
            execution = journal.get(ident)
        except MedicError:
            execution = None
    plan = (execution.status, execution.proposal) if execution is not None and execution.cluster == cluster \
        else planned(cluster, ident)
    if plan is None:
        raise HTTPException(404, f"no execution or DAG run {ident!r} with a plan on cluster {cluster!r}")
    status, proposal = plan
    try:
        return pages.proposal_page(cluster, proposal_view(ident, status, proposal, topic, max(page, 1)))
    except OutOfLimits as exc:
        return pages.proposal_page(cluster, proposal_view(ident, status, proposal), error=str(exc))


def planned(cluster: str, run_id: str) -> tuple[str, Proposal] | None:
    """The plan task's proposal in the cluster's DAG run `run_id` and where its approval stands; None if none."""
    def xcom(task_id: str, key: str):
        query = select(XComModel.value).where(
            XComModel.dag_id.startswith(f"kafka_medic__{cluster}__", autoescape=True), XComModel.run_id == run_id,
            XComModel.task_id == task_id, XComModel.key == key, XComModel.map_index == -1)
        row = session.execute(query.limit(1)).first()
        return None if row is None else XComModel.deserialize_value(row)

    with create_session(scoped=False) as session:
        plan, decision = xcom(ids.PLAN, XCOM_RETURN_KEY), xcom(ids.APPROVE, ids.DECISION)
        execution_id = xcom(ids.SET_THROTTLES, XCOM_RETURN_KEY)
    if not plan:
        return None
    status = "awaiting approval" if not decision else decision.get("reason") or str(decision)
    if execution_id:
        status += f"; executed as {execution_id}"
    return status, parse_proposal(plan)


async def editable(cluster: str, user: BaseUser, request: Request, what: str) -> ManagedCluster:
    """The cluster if this form POST may act on it: from this server's own page, by a user who may edit its DAGs."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(403, f"{what} must come from this server's own page")
    managed = await run_in_threadpool(readable, user, cluster)
    if not await run_in_threadpool(allowed, user, cluster, "PUT"):
        raise HTTPException(403, f"not allowed to edit the DAGs of cluster {cluster!r}: {what} refused")
    return managed


@router.post("/{cluster}/stop", response_class=HTMLResponse)
async def stop_execution(cluster: str, user: User, request: Request) -> str:
    managed = await editable(cluster, user, request, "Stop")
    log.info("console: %s stops the execution on %s", user.get_name(), cluster)
    try:
        config = (await run_in_threadpool(KafkaMedicHook(managed.conn_id, cluster).get_settings)).config
        report = await run_in_threadpool(partial(stop, config, wait_s=STOP_WAIT_S, log=log.info))
    except MedicError as exc:
        return pages.stop_page(cluster, f"not stopped: {exc}")
    return pages.stop_page(cluster, "; ".join(report_lines(report)) if report else "stopped")


@router.post("/{cluster}/execution", response_class=HTMLResponse)
async def change_execution(cluster: str, user: User, request: Request) -> str:
    """The running execution's new throttle and concurrency (`executor.run.change_options`); empty: unchanged."""
    await editable(cluster, user, request, "Changing the execution")
    form = parse_qs((await request.body())[:4096].decode(errors="replace"))
    field = {name: values[0].strip() for name, values in form.items() if values and values[0].strip()}
    log.info("console: %s changes the execution on %s: %s", user.get_name(), cluster,
             {k: v for k, v in field.items() if k in ("throttle_mb_s", "concurrency")})
    try:
        throttle = _number("throttle_mb_s", field.get("throttle_mb_s"), float)
        concurrency = _number("concurrency", field.get("concurrency"), int)
        options = await run_in_threadpool(partial(
            change_options, cluster, None if throttle is None else throttle * MB, concurrency,
            field.get("execution"), log=log.info))
    except MedicError as exc:
        return pages.stop_page(cluster, f"not changed: {exc}")
    shown = f"{options.throttle / MB:g} MB/s" if options.throttle else "auto" if options.auto_throttle else "none"
    return pages.stop_page(cluster, f"changed: throttle {shown}, concurrency "
                                    f"{options.concurrency or 'by bytes in flight'}, from the executor's next poll")


def _number(name: str, text: str | None, kind: type[N]) -> N | None:
    if text is None:
        return None
    try:
        return kind(text[:40])
    except ValueError:
        raise MedicError(f"{name} must be {'an integer' if kind is int else 'a number'}, got {text[:40]!r}") from None
