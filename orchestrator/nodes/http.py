"""The ``http_request`` node: one HTTP call through ``orchestrator.security.network`` (the
address rule, pinned connections, redirects re-checked), its status judged against
``ok_statuses``."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from orchestrator.nodes.base import NodeContext, NodeError, NodeType
from orchestrator.security.network import RETRYABLE_CLIENT_ERRORS, SCHEMES, NetworkError, decode_body, describe_url, \
    safe_request

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name.lower() for key in headers)


class HttpRequestConfig(Schema):
    method = fields.String(load_default="GET", validate=validate.OneOf(METHODS))
    url = fields.Url(required=True, schemes=set(SCHEMES), require_tld=False)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    json = fields.Raw(allow_none=True)
    body = fields.String()
    timeout_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=0, min_inclusive=False))
    ok_statuses = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=100, max=599)), validate=validate.Length(min=1)
    )
    follow_redirects = fields.Boolean(load_default=True)
    retry_statuses = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=400, max=499)), load_default=list,
        metadata={"description": "Client errors to retry besides 408 and 429 (5xx are always retried)"},
    )

    @pre_load
    def _upper_case_method(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            return {**data, "method": data["method"].upper()}
        return data

    @validates_schema(skip_on_field_errors=False)
    def _one_body(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "json" in data and "body" in data:
            raise ValidationError("give json or body, not both")


class HttpRequestNode(NodeType):
    """Calls an HTTP endpoint; a status outside ``ok_statuses`` (default 2xx) fails the attempt, and a
    4xx other than 408, 429 and ``retry_statuses`` fails it for good (no retry)."""

    type_name: ClassVar[str] = "http_request"
    config_schema: ClassVar[type[Schema]] = HttpRequestConfig

    def run(self, ctx: NodeContext) -> dict[str, Any]:
        config = ctx.config
        headers = dict(config["headers"])
        if not _has_header(headers, "Idempotency-Key"):
            headers["Idempotency-Key"] = ctx.idempotency_key
        body = None
        if "json" in config:
            body = json.dumps(config["json"]).encode()
            if not _has_header(headers, "Content-Type"):
                headers["Content-Type"] = "application/json"
        elif "body" in config:
            body = config["body"].encode()
        try:
            response = safe_request(
                config["method"], config["url"], allow_private=ctx.allow_private_network,
                timeout=config["timeout_seconds"], headers=headers, body=body,
                follow_redirects=config["follow_redirects"],
            )
            ok_statuses = config.get("ok_statuses")
            ok = response.status_code in ok_statuses if ok_statuses else 200 <= response.status_code < 300
            if not ok:
                status = f"{response.status_code} {response.reason}".strip()
                code = response.status_code
                retryable = not 400 <= code < 500 or code in RETRYABLE_CLIENT_ERRORS or code in config["retry_statuses"]
                raise NodeError(f"HTTP {status} from {describe_url(response.url)}", retryable=retryable)
            return {"status_code": response.status_code, "headers": response.headers, **decode_body(response)}
        except NetworkError as exc:
            raise NodeError(str(exc), retryable=exc.retryable) from None
