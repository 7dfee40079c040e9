"""Answering a waiting approval gate in-process, as the REST API's PATCH .../hitlDetails does.

The Slack endpoint and the Cruise Control `review` endpoint both answer through here: the REST route's own
function (its validation, its check that the user may respond, its locking and the event that resumes the
task), called with the deciding user, so neither needs Airflow credentials of its own.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser


def answer(dag_id: str, run_id: str, task_id: str, approve: bool, user: BaseUser, map_index: int = -1) -> None:
    """Approve or reject the ApprovalOperator waiting in the run; HTTPException 404/409/400/403 if it cannot be."""
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.providers.standard.operators.hitl import ApprovalOperator
    from airflow.utils.session import create_session

    option = ApprovalOperator.APPROVE if approve else ApprovalOperator.REJECT
    with create_session(scoped=False) as session:
        update_hitl_detail(
            dag_id=dag_id, dag_run_id=run_id, task_id=task_id,
            update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[option]),
            user=user, session=session, map_index=map_index,
        )
