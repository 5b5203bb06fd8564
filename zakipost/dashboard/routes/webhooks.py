"""The Webhooks page: endpoints (the secret shown once), switching on and off, rotation,
deletion, a test event, and each endpoint's deliveries log with retry."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from zakipost.dashboard.sessions import CurrentUser, DashboardUser, FormUser
from zakipost.dashboard.web import render
from zakipost.db.session import ReadSessionDep
from zakipost.dependencies import SessionmakerDep, SettingsDep, VaultDep
from zakipost.errors import AppError
from zakipost.webhook import service as webhook_service
from zakipost.webhook.schemas import EVENT_TYPES, WebhookCreate, WebhookUpdate

router = APIRouter(prefix="/webhooks")

_NOTICES = {
    "enabled": "Endpoint switched on.",
    "disabled": "Endpoint switched off: nothing is sent to it until you switch it on.",
    "deleted": "Endpoint deleted.",
    "tested": "Test event queued; it appears in the endpoint's deliveries log.",
    "retried": "Delivery queued again.",
}


async def _page(
    request: Request,
    user: DashboardUser,
    session: ReadSessionDep,
    *,
    status: int = 200,
    secret: tuple[str, str] | None = None,
    form: dict[str, object] | None = None,
    errors: list[str] | None = None,
) -> Response:
    endpoints = await webhook_service.list_for(session, user.account.id)
    notices = [text for key, text in _NOTICES.items() if request.query_params.get(key)]
    banners = [
        f"The endpoint {e.url} was switched off: {e.disabled_reason}"
        for e in endpoints
        if not e.enabled and e.disabled_reason
    ]
    return render(
        request,
        "webhooks.html",
        status,
        title="Webhooks",
        nav="webhooks",
        user=user,
        endpoints=endpoints,
        event_types=EVENT_TYPES,
        new_secret=secret,
        form=form or {},
        notices=notices,
        errors=[*banners, *(errors or [])],
    )


@router.get("")
async def webhooks_page(request: Request, user: CurrentUser, session: ReadSessionDep) -> Response:
    return await _page(request, user, session)


@router.post("")
async def create(
    request: Request,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    vault: VaultDep,
) -> Response:
    data = await request.form()
    chosen = [str(v) for v in data.getlist("events")]
    url, description = str(data.get("url", "")), str(data.get("description", ""))
    form: dict[str, object] = {"url": url, "description": description, "events": chosen}
    try:
        body = WebhookCreate(url=url, events=chosen or None, description=description or None)
        async with sessionmaker() as write, write.begin():
            endpoint, secret = await webhook_service.create(
                write,
                settings,
                vault,
                user.account.id,
                body,
                resolver=getattr(request.app.state, "webhook_resolver", None),
            )
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return await _page(request, user, session, status=400, form=form, errors=problems)
    except AppError as exc:
        return await _page(request, user, session, status=400, form=form, errors=[exc.message])
    return await _page(request, user, session, secret=(endpoint.url, secret))


@router.post("/{webhook_id}/enabled")
async def set_enabled(
    webhook_id: uuid.UUID,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
    vault: VaultDep,
    enabled: str = Form(""),
) -> Response:
    # "true" switches on, anything else off (the page sends "true" or "false").
    on = enabled == "true"
    async with sessionmaker() as session, session.begin():
        await webhook_service.update(
            session, settings, vault, user.account.id, webhook_id, WebhookUpdate(enabled=on)
        )
    flag = "enabled" if on else "disabled"
    return RedirectResponse(f"/dashboard/webhooks?{flag}=1", status_code=303)


@router.post("/{webhook_id}/rotate")
async def rotate(
    request: Request,
    webhook_id: uuid.UUID,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    vault: VaultDep,
) -> Response:
    async with sessionmaker() as write, write.begin():
        endpoint, secret = await webhook_service.update(
            write,
            settings,
            vault,
            user.account.id,
            webhook_id,
            WebhookUpdate(rotate_secret=True),
        )
    assert secret is not None
    return await _page(request, user, session, secret=(endpoint.url, secret))


@router.post("/{webhook_id}/delete")
async def delete(webhook_id: uuid.UUID, user: FormUser, sessionmaker: SessionmakerDep) -> Response:
    async with sessionmaker() as session, session.begin():
        await webhook_service.delete(session, user.account.id, webhook_id)
    return RedirectResponse("/dashboard/webhooks?deleted=1", status_code=303)


@router.post("/{webhook_id}/test")
async def send_test(
    webhook_id: uuid.UUID, user: FormUser, sessionmaker: SessionmakerDep
) -> Response:
    async with sessionmaker() as session, session.begin():
        await webhook_service.send_test(session, user.account.id, webhook_id)
    return RedirectResponse(f"/dashboard/webhooks/{webhook_id}?tested=1", status_code=303)


@router.get("/{webhook_id}")
async def deliveries_page(
    request: Request,
    webhook_id: uuid.UUID,
    user: CurrentUser,
    session: ReadSessionDep,
    cursor: str | None = None,
) -> Response:
    endpoint = await webhook_service.get_for(session, user.account.id, webhook_id)
    page, following = await webhook_service.deliveries(
        session,
        user.account.id,
        webhook_id,
        limit=50,
        cursor=webhook_service.Cursor.decode(cursor) if cursor else None,
    )
    notices = [text for key, text in _NOTICES.items() if request.query_params.get(key)]
    errors = [] if endpoint.enabled or not endpoint.disabled_reason else [endpoint.disabled_reason]
    return render(
        request,
        "webhook.html",
        title=f"Deliveries to {endpoint.url}",
        nav="webhooks",
        user=user,
        endpoint=endpoint,
        deliveries=page,
        next_cursor=following.encode() if following else None,
        notices=notices,
        errors=errors,
    )


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    user: FormUser,
    sessionmaker: SessionmakerDep,
    settings: SettingsDep,
) -> Response:
    async with sessionmaker() as session, session.begin():
        await webhook_service.retry(session, settings, user.account.id, webhook_id, delivery_id)
    return RedirectResponse(f"/dashboard/webhooks/{webhook_id}?retried=1", status_code=303)
