"""kafka-medic's Airflow plugin at /kafka-medic: the Slack endpoint that answers approval gates, Prometheus metrics,
and the operator console (`kafka_medic.airflow.console`: /kafka-medic/ and /kafka-medic/<cluster>/...), which
Airflow's navigation links to as the external view "kafka-medic", and Cruise Control's REST API per cluster
(/kafka-medic/<cluster>/kafkacruisecontrol/: `kafka_medic.airflow.ccapi`).

GET /kafka-medic/metrics serves every cluster's gauges in Prometheus's text format, read from the store
at each scrape (`kafka_medic.notify.exporter`), never from Kafka. Plugin apps get no authentication from
the api-server, so the route asks for it itself with the REST API's own dependency: a bearer token (the
REST API's JWT, from POST /auth/token) of a user allowed the Cluster Activity view; Prometheus sends it
with `authorization: {credentials_file: ...}` in its scrape config. In the demo's all-admins mode the
api-server's middleware adds a token to every request, so the demo stays open.

POST /kafka-medic/slack/interactivity is Slack's "Interactivity Request URL". Plugin apps are not behind
Airflow's authentication, so the Slack request signature is this endpoint's authentication: an unsigned,
forged or stale request, or a click by someone not on the approver list, is refused (401/403) before
anything is read or written. A valid click answers the task's Human-in-the-loop detail through the same
function that serves the REST API's PATCH .../hitlDetails (its validation, locking and event-driven
resume), called in-process with the approver as the responding user, so no Airflow credentials are needed;
then the Slack message is updated to say who decided.

Settings come from the Airflow connection `kafka_medic_slack` (password: bot token; extras: channel,
base_url, signing_secret, approvers) or from the KAFKA_MEDIC_SLACK_* environment variables.
"""

from __future__ import annotations

import logging

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from airflow.exceptions import AirflowNotFoundException
from airflow.models.connection import Connection
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from kafka_medic.airflow.ccapi import router as cruise_control_router
from kafka_medic.airflow.console import router as console_router
from kafka_medic.airflow.hitl import answer
from kafka_medic.errors import MedicError
from kafka_medic.notify.approval import APPROVE, SLACK_CONN_ID
from kafka_medic.notify.exporter import StoreCollector, metrics_text
from kafka_medic.notify.interactivity import (
    MAX_BODY_BYTES,
    ApprovalSettings,
    Decision,
    Refusal,
    parse_click,
    slack_responder,
)
from kafka_medic.notify.slack import SlackNotifier, SlackSettings

URL_PREFIX = "/kafka-medic"

log = logging.getLogger(__name__)

app = FastAPI(title="kafka-medic", docs_url=None, redoc_url=None, openapi_url=None)
# The app's one collector: it keeps a running execution's move sizes between scrapes (see StoreCollector).
collector = StoreCollector()


class SlackApprover(BaseUser):
    """The responding user recorded in the HITL detail: the approver's Airflow id, named after their Slack login."""

    def __init__(self, airflow_id: str, slack_name: str) -> None:
        self.airflow_id, self.slack_name = airflow_id, slack_name

    def get_id(self) -> str:
        return self.airflow_id

    def get_name(self) -> str:
        return slack_responder(self.slack_name)


@app.get("/metrics", dependencies=[Depends(requires_access_view(AccessView.CLUSTER_ACTIVITY))])
async def metrics() -> Response:
    """Every cluster's gauges; `kafka_medic_up 0` (still a 200) when the store cannot be read."""
    body = await run_in_threadpool(metrics_text, collector)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@app.post("/slack/interactivity")
async def slack_interactivity(request: Request) -> JSONResponse:
    body = await read_body(request, MAX_BODY_BYTES)
    if body is None:
        return _refuse(Refusal(413, f"request body over {MAX_BODY_BYTES} bytes"))
    conn = await run_in_threadpool(_slack_connection)
    try:
        settings = ApprovalSettings.from_connection(conn) if conn else ApprovalSettings.from_env()
    except MedicError as exc:  # the operator's configuration, not the caller's request: Slack retries a 503
        log.error("Slack approvals are misconfigured: %s", exc)
        return JSONResponse({"ok": False, "error": "approvals misconfigured on the server"}, status_code=503)
    click = parse_click(settings.signing_secret, settings.approvers, request.headers, body)
    if isinstance(click, Refusal):
        return _refuse(click)
    try:
        await run_in_threadpool(answer_approval, click, settings.approvers[click.user_id])
    except HTTPException as exc:
        log.warning("Slack %s by %s not recorded: %s", click.decision, click.user_id, exc.detail)
        return JSONResponse({"ok": False, "error": exc.detail}, status_code=exc.status_code)
    log.info("%s of %s recorded", click.reason, click.approval)
    if click.message is not None:
        await run_in_threadpool(_mark_decided, conn, click)
    return JSONResponse({"ok": True, "decision": click.decision, "user": click.user_id})


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes: an unauthenticated client sets the size.

    Read chunk by chunk rather than trusting Content-Length, which a chunked or lying request does not honour.
    """
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _refuse(refusal: Refusal) -> JSONResponse:
    log.warning("refused a Slack interactivity request: %s", refusal.reason)
    return JSONResponse({"ok": False, "error": refusal.reason}, status_code=refusal.status)


def answer_approval(click: Decision, airflow_user_id: str) -> None:
    """Respond to the waiting ApprovalOperator as the REST API would; HTTPException 404/409/400/403 if not."""
    ref = click.approval
    answer(ref.dag_id, ref.run_id, ref.task_id, click.decision == APPROVE,
           SlackApprover(airflow_user_id, click.user_name), ref.map_index)


def _mark_decided(conn: Connection | None, click: Decision) -> None:
    """Replace the buttons by who decided; the decision stands even if Slack cannot be updated."""
    try:
        settings = SlackSettings.from_connection(conn, channel=click.message.channel) if conn else \
            SlackSettings.from_env(channel=click.message.channel)
        SlackNotifier(settings).mark_decided(click.message, click.blocks, click.text, click.decision, click.user_id)
    except MedicError as exc:
        log.warning("could not update the Slack message: %s", exc)


def _slack_connection() -> Connection | None:
    try:
        return Connection.get_connection_from_secrets(SLACK_CONN_ID)
    except AirflowNotFoundException:
        return None


app.include_router(cruise_control_router)  # /<cluster>/kafkacruisecontrol/...: Cruise Control's REST API
app.include_router(console_router)  # last: its /{cluster}/ paths must not shadow the routes above


class KafkaMedicPlugin(AirflowPlugin):
    name = "kafka_medic"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "kafka-medic"}]
    # Airflow's navigation bar shows the console in an iframe at /plugin/kafka-medic: the same origin,
    # so the UI's `_token` cookie goes along and the console's routes know the user
    external_views = [{"name": "kafka-medic", "href": f"{URL_PREFIX}/", "destination": "nav",
                       "url_route": "kafka-medic"}]
