"""Webhook triggers: a URL that starts an execution of a workflow when a request signed with
its secret arrives (no API key).

The secret is made here, shown once and kept sealed (it is needed again to check each
signature, so it cannot be hashed). A call is checked (``orchestrator.security.signing``:
the HMAC, then the timestamp within the webhook's tolerance), its input rendered from the
request by the webhook's template (the sandbox: ``body``, ``headers``, ``query``), its
signature remembered (the same one again is a replay, refused), then submitted as any
execution is: the owner's rate limit, the audit entry (the owner acting, from the caller's
address), trigger ``webhook`` and lineage naming the webhook. The idempotency key, from a
header or a body field, is kept as ``webhook:<id>:<key>``: the same key is the same execution.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import Execution, User, Webhook, WebhookSignature
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine
from orchestrator.security.signing import HEADER, SignatureError, new_secret, verify
from orchestrator.services import audit, executions
from orchestrator.services.errors import Conflict, Invalid, NotFound, Unauthorized
from orchestrator.services.pagination import DEFAULT_LIMIT, Page
from orchestrator.services.workflows import get_workflow, workflow_row, workflow_rows
from orchestrator.states import Trigger
from orchestrator.storable import NotStorable, check_storable
from orchestrator.templating import TemplateError, check_template, iter_strings, render_value

SECRET_PREFIX = "whsec"
KEY_MAX = 200           # room left in executions.idempotency_key (255) after "webhook:<id>:"


@dataclass(frozen=True)
class Call:
    """An inbound request, as the API hands it over."""

    body: bytes
    content_type: str
    headers: Mapping[str, str]
    query: str
    client_address: str | None


def create_webhook(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, *,
                   name: str | None = None, input_template: Any = None, idempotency_header: str | None = None,
                   idempotency_field: str | None = None, tolerance_seconds: int = 300) -> tuple[Webhook, str]:
    """A webhook of the owner's workflow; (it, its secret: shown this once)."""
    get_workflow(session, owner, workflow_id)
    _check_template(input_template)
    if idempotency_header and idempotency_field:
        raise Invalid("give idempotency_header or idempotency_field, not both",
                      {"idempotency_field": ["the idempotency key comes from a header or a body field, not both"]})
    secret = new_secret(SECRET_PREFIX)
    hook = Webhook(id=uuid.uuid4(), owner_id=owner.id, workflow_id=workflow_id, name=name,
                   input_template=input_template, idempotency_header=idempotency_header,
                   idempotency_field=idempotency_field, tolerance_seconds=tolerance_seconds)
    seal_field(keyring, hook, "secret", secret.encode())
    session.add(hook)
    session.flush()
    return hook, secret


def _check_template(template: Any) -> None:
    problems = []
    for path, text in iter_strings(template, "input_template"):
        try:
            check_template(text)
        except TemplateError as exc:
            problems.append(f"{path}: {exc}")
    try:
        check_storable(template, "input_template")
    except NotStorable as exc:
        problems.append(str(exc))
    if problems:
        raise Invalid("invalid input_template", {"input_template": problems})


def list_webhooks(session: Session, owner: User, workflow_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[Webhook]:
    return workflow_rows(session, owner, workflow_id, Webhook, cursor, limit)


def delete_webhook(session: Session, owner: User, workflow_id: uuid.UUID, webhook_id: uuid.UUID) -> Webhook:
    hook = workflow_row(session, owner, workflow_id, Webhook, webhook_id, "webhook")
    session.delete(hook)
    return hook


def receive(engine: Engine, webhook_id: uuid.UUID, call: Call) -> Execution:
    """Check the call and start (or, for a key seen before, find) its execution."""
    with engine.sessions() as session:
        hook = session.get(Webhook, webhook_id)
        if hook is None:
            raise NotFound(f"webhook {webhook_id} not found")
        secret = open_field(engine.keyring, hook, "secret").decode()
    try:
        signature = verify(secret, call.headers.get(HEADER), call.body, tolerance_seconds=hook.tolerance_seconds)
    except SignatureError as exc:
        raise Unauthorized(f"webhook {webhook_id}: {exc}") from None
    body = _body(call)
    variables = {"body": body, "headers": {k.lower(): v for k, v in call.headers.items()},
                 "query": dict(parse_qsl(call.query))}
    input = _input(hook, variables)
    key = _idempotency_key(hook, body, variables["headers"])
    _remember(engine, hook, signature)
    token = audit.begin_acting(audit.Actor(hook.owner_id, None, call.client_address, webhook_id=hook.id))
    try:
        execution, _ = executions.submit(engine, hook.owner, hook.workflow_id, input, trigger=Trigger.WEBHOOK,
                                         idempotency_key=key and f"webhook:{hook.id}:{key}")
    finally:
        audit.end_acting(token)
    return execution


def _body(call: Call) -> Any:
    """The body as JSON (sent as JSON), a form's fields (sent as a form), else its text."""
    text = call.body.decode("utf-8", errors="replace")
    if call.content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text))
    if call.content_type == "application/json" or call.content_type.endswith("+json"):
        try:
            return json.loads(text, parse_constant=_not_json)
        except ValueError as exc:
            raise Invalid(f"the body is sent as JSON but is not JSON: {exc}") from None
        except RecursionError:
            raise Invalid("the body is JSON nested too deeply") from None
    return text


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _input(hook: Webhook, variables: dict[str, Any]) -> dict[str, Any]:
    """The execution's input: the webhook's template rendered, or (none) the body."""
    if hook.input_template is None:
        value = variables["body"]
    else:
        try:
            value = render_value(hook.input_template, variables, "input_template")
        except TemplateError as exc:
            raise Invalid(f"the webhook's input_template does not render: {exc}") from None
    if not isinstance(value, dict):
        source = "its input_template renders" if hook.input_template is not None else "the body is"
        raise Invalid(f"an execution's input is a JSON object, and {source} {type(value).__name__}: send a JSON "
                      "object, or give the webhook an input_template that makes one")
    try:
        check_storable(value, "input")
    except NotStorable as exc:
        raise Invalid(f"the input cannot be stored: {exc}") from None
    return value


def _idempotency_key(hook: Webhook, body: Any, headers: dict[str, str]) -> str | None:
    if hook.idempotency_header:
        key = headers.get(hook.idempotency_header.lower())
        where = f"header {hook.idempotency_header}"
    elif hook.idempotency_field:
        key, where = body, f"body field {hook.idempotency_field!r}"
        for part in hook.idempotency_field.split("."):
            key = key.get(part) if isinstance(key, dict) else None
    else:
        return None
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
        raise Invalid(f"the webhook takes its idempotency key from the {where}, which the request lacks "
                      "(or which is not a string or an integer)")
    if len(str(key)) > KEY_MAX:
        raise Invalid(f"the idempotency key from the {where} is longer than {KEY_MAX} characters")
    return str(key)


def _remember(engine: Engine, hook: Webhook, signature: str) -> None:
    """Keep the signature while a replay of it could still be within the window (twice the
    tolerance after it was seen); one seen already is a replay."""
    now = utcnow()
    try:
        with engine.sessions.begin() as session:
            session.execute(delete(WebhookSignature).where(
                WebhookSignature.webhook_id == hook.id,
                WebhookSignature.seen_at < now - timedelta(seconds=2 * hook.tolerance_seconds)))
            session.add(WebhookSignature(webhook_id=hook.id, signature=signature, seen_at=now))
            session.execute(update(Webhook).where(Webhook.id == hook.id).values(last_called_at=now))
    except IntegrityError:
        raise Conflict(f"webhook {hook.id}: this signature was accepted before: a replayed request is refused; "
                       "sign each request anew, with the current time") from None
