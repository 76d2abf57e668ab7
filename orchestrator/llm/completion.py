"""One ``llm`` node's work, turn by turn.

A turn resolves the model (then each of ``fallbacks`` while the previous one is unusable),
reserves the request's worst-case cost against the owner's budget (``ledger.reserve``: every
model request of an llm node, agent, team member or supervisor passes there) and a credential,
and calls. Within a turn: 5xx, timeouts and connection errors are
retried ``retry_count`` times with jittered backoff; a 429 cools the credential down and the
next credential is tried; 401/403 cools it down too and the next is tried. A turn ends with:

- the output, when the answer is good;
- ``Continue`` at once, after an answer that fails ``output_schema`` while repair attempts
  remain (the next turn re-asks with the validation errors), so the finished call is
  committed before the next one starts;
- ``Continue`` with ``not_before``, when every credential is rate limited, or what is left of
  the budget is reserved by requests in flight: no worker waits;
- ``NodeError`` naming what was missing or what went wrong, redacted.

Every call, good or not, is a ``CallRecord`` (redacted) for ``step_calls``.
"""
from __future__ import annotations

import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema

from orchestrator.crypto import KeyRing
from orchestrator.db.types import utcnow
from orchestrator.llm import clients, ledger
from orchestrator.llm.clients import CallFailed, ModelUnusable, RateLimited, Refused, Rejected, Reply, Request, \
    Transient
from orchestrator.llm.ledger import cost_of
from orchestrator.llm.memory import recall
from orchestrator.llm.protocol import unusable
from orchestrator.llm.redaction import Redactor
from orchestrator.llm.resolution import Target, Unusable, cool_down, next_cooldown_end, reserve_credential, resolve
from orchestrator.nodes.base import CallRecord, Continue, NodeContext, NodeError

# Deltas are gathered and sent as one ``llm_delta`` event about this often.
DELTA_INTERVAL_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 30.0
# A request whose budget is reserved by requests in flight waits this long for them.
BUDGET_WAIT = timedelta(seconds=1)
REPAIR_PROMPT = ("Your answer is not valid against the JSON Schema: {errors}. "
                 "Answer again with one JSON value only, valid against the schema.")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class _GiveWay(Exception):
    """This model cannot answer now; the next of ``fallbacks`` may."""


@dataclass
class _Park(Exception):
    until: datetime
    reason: str


class _Deltas:
    """Gathers streamed text and emits it as ``llm_delta`` events about every 200 ms, each ending
    at a word's end (the rest waits for the next): a key or a secret in the answer is masked in
    the event that holds it whole, never shown in two halves."""

    def __init__(self, ctx: NodeContext, ref: str, redact: Redactor):
        self._ctx, self._ref, self._redact = ctx, ref, redact
        self._buffer: list[str] = []
        self._last = time.monotonic()

    def __call__(self, piece: str) -> None:
        self._buffer.append(piece)
        if time.monotonic() - self._last >= DELTA_INTERVAL_SECONDS:
            self._emit(whole_words=True)

    def flush(self) -> None:
        self._emit(whole_words=False)

    def _emit(self, whole_words: bool) -> None:
        text = "".join(self._buffer)
        cut = max(text.rfind(space) for space in " \n\t") + 1 if whole_words else len(text)
        if cut:
            self._ctx.emit("llm_delta", f"{self._ref} is answering",
                           {"delta": self._redact.text(text[:cut]), "model": self._ref})
        self._buffer = [text[cut:]] if text[cut:] else []
        self._last = time.monotonic()


def parse_json(text: str) -> Any:
    """The JSON value of an answer, allowing a Markdown code fence around it."""
    fenced = _FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))]


class Completion:
    """The ``llm`` node's run for one turn; ``ctx.config`` is the loaded node config."""

    def __init__(self, ctx: NodeContext, config: dict[str, Any] | None = None,
                 tools: tuple[dict[str, Any], ...] = ()):
        """``config``: the ``llm`` node's keys (default: the node's own); ``tools``: function
        tools offered to the model (see ``clients.Request``)."""
        self.ctx = ctx
        self.config = ctx.config if config is None else config
        self.tools = tools
        self.sessions = ctx.services.sessions
        self.keyring: KeyRing = ctx.services.keyring
        self.settings = ctx.services.settings
        self.secrets: set[str] = set()

    @property
    def redact(self) -> Redactor:
        return Redactor(self.secrets)

    # -- the turn ------------------------------------------------------------------------------

    def run(self) -> Any:
        state = self.ctx.checkpoint or self._first_state()
        asked = self.ask(state)
        return asked if isinstance(asked, Continue) else self._answer(*asked, state)

    def ask(self, state: dict[str, Any]) -> tuple[Target, Reply] | Continue:
        """One answer to ``state["messages"]``, from the model or the first usable fallback; a
        ``Continue`` with ``not_before`` (holding ``state``) when every credential is rate limited.
        ``state`` holds ``fallback_index``, ``messages`` and ``usage`` (summed here)."""
        refs = [self.config["model"], *self.config.get("fallbacks", [])]
        self._check_prompt_size(state["messages"], refs[state["fallback_index"]])
        reasons: list[str] = []
        for index in range(state["fallback_index"], len(refs)):
            state["fallback_index"] = index
            try:
                with self.sessions() as session:
                    target = resolve(session, uuid.UUID(str(self.ctx.owner_id)), refs[index])
                return target, self._ask(target, state)
            except (Unusable, _GiveWay) as exc:
                reasons.append(str(exc))
                continue
            except _Park as park:
                return Continue(state, not_before=park.until, message=park.reason)
        tried = "" if len(refs) == 1 else f" (tried {', '.join(refs)})"
        raise NodeError(self.redact.text(f"no model could answer{tried}: {'; '.join(reasons)}"))

    def _check_prompt_size(self, messages: list[dict[str, Any]], ref: str) -> None:
        size = sum(len(m.get("content") or "") for m in messages)
        limit = self.settings.llm_max_prompt_chars
        if size > limit:
            raise NodeError(f"the messages for {ref} hold {size:,} characters, over ORCHESTRATOR_LLM_MAX_PROMPT_CHARS "
                            f"({limit:,}): shorten the prompt or raise the limit", retryable=False)

    def _first_state(self) -> dict[str, Any]:
        config = self.config
        messages = [{"role": "system", "content": config["system"]}] if config.get("system") else []
        conversation = list(config.get("messages") or [{"role": "user", "content": config["prompt"]}])
        messages += [m for m in conversation if m["role"] == "system"]
        memory = config.get("memory")
        if memory:
            with self.sessions() as session:
                messages += recall(session, self.keyring, uuid.UUID(str(self.ctx.workflow_id)), self.ctx.node_id,
                                   memory["key"], memory["max_messages"])
        messages += [m for m in conversation if m["role"] != "system"]
        return {"fallback_index": 0, "messages": messages, "repairs": 0,
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": "0", "cost_known": True}}

    def _answer(self, target: Target, reply: Reply, state: dict[str, Any]) -> Any:
        usage = state["usage"]
        schema = self.config.get("output_schema")
        output: dict[str, Any] = {"text": reply.text}
        if schema is not None:
            try:
                structured = parse_json(reply.text)
                errors = schema_errors(structured, schema)
            except ValueError as exc:
                structured, errors = None, [f"(root): the answer is not JSON ({exc})"]
            self._mark_structured(structured, errors)
            if errors:
                if state["repairs"] >= self.config["repair_attempts"]:
                    raise NodeError(self.redact.text(
                        f"the answer of {target.ref} is not valid against output_schema after "
                        f"{state['repairs']} repair attempt(s): {'; '.join(errors)}"))
                state["repairs"] += 1
                state["messages"] += [{"role": "assistant", "content": reply.text},
                                      {"role": "user", "content": REPAIR_PROMPT.format(errors="; ".join(errors))}]
                return Continue(state, message=f"repairing the answer of {target.ref} "
                                               f"({state['repairs']}/{self.config['repair_attempts']})")
            output["structured"] = structured
        cost = Decimal(usage["cost"]) if usage["cost_known"] else None
        output.update({
            "finish_reason": reply.finish_reason,
            "model": {"provider": target.provider, "model_id": target.model_id,
                      "fallback_index": state["fallback_index"]},
            "usage": {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
                      "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                      "cost": float(cost) if cost is not None else None},
        })
        if self.config.get("memory"):
            self._mark(remember=True)
        return output

    # -- calls ---------------------------------------------------------------------------------

    def _ask(self, target: Target, state: dict[str, Any]) -> Reply:
        """An answer from ``target``, trying its credentials and retrying transient failures."""
        request = Request(state["messages"], dict(self.config.get("params") or {}),
                          self.config.get("output_schema"), self.config.get("stream", False), self.tools)
        refused: set[uuid.UUID] = set()
        rate_limited = False
        failures = 0
        while True:
            now, call_id = utcnow(), uuid.uuid4()
            try:
                with self.sessions.begin() as session:
                    # Every model request passes here: its worst case is reserved against the budget.
                    ledger.reserve(session, self.ctx, target, request, call_id)
                    lease = reserve_credential(session, self.keyring, target, now, frozenset(refused))
            except ledger.BudgetBusy as busy:
                raise _Park(now + BUDGET_WAIT, str(busy)) from None
            except Unusable as exc:
                if rate_limited:
                    with self.sessions() as session:
                        until = next_cooldown_end(session, target.provider_id, now) or now
                    raise _Park(until, f"{target.ref} is rate limited; waiting until {until:%H:%M:%S} UTC") from None
                raise _GiveWay(str(exc)) from None
            self.secrets.add(lease.api_key)
            try:
                return self._call(target, lease.api_key, lease.alias, request, state, call_id)
            except Transient as exc:
                failures += 1
                if failures > target.retry_count:
                    raise _GiveWay(f"{exc} (after {target.retry_count} retries)") from None
                self._backoff(failures)
            except RateLimited as exc:
                rate_limited = True
                self._cool(lease.id, now + timedelta(seconds=exc.retry_after))
            except Refused:
                refused.add(lease.id)
                self._cool(lease.id, now + timedelta(seconds=self.settings.llm_auth_cooldown_seconds))
            except ModelUnusable as exc:
                raise _GiveWay(str(exc)) from None
            except Rejected as exc:
                raise NodeError(self.redact.text(str(exc)), retryable=exc.retryable) from None

    def _call(self, target: Target, api_key: str, alias: str | None, request: Request,
              state: dict[str, Any], call_id: uuid.UUID) -> Reply:
        deltas = _Deltas(self.ctx, target.ref, self.redact)
        started = time.monotonic()
        meta = {"provider": target.provider, "model_id": target.model_id, "credential": alias,
                "fallback_index": state["fallback_index"], "turn": self.ctx.turn}
        shown_request = {"model": target.model_id, "messages": request.messages, "params": request.params,
                         "stream": request.stream}
        try:
            reply = clients.call(target, api_key, request, self.ctx.idempotency_key, deltas,
                                 allow_private=self.settings.llm_allow_private)
        except CallFailed as exc:
            deltas.flush()
            self._record(call_id, target, "error", shown_request, None, None, None, started, str(exc),
                         {**meta, "http_status": exc.status})
            raise
        deltas.flush()
        reported = reply.prompt_tokens is not None and reply.completion_tokens is not None
        cost = cost_of(reply.prompt_tokens, reply.completion_tokens, target) if reported else None
        usage = state["usage"]
        if reported:
            usage["prompt_tokens"] += reply.prompt_tokens
            usage["completion_tokens"] += reply.completion_tokens
        if cost is None:
            usage["cost_known"] = False
        else:
            usage["cost"] = str(Decimal(usage["cost"]) + cost)
        problem = unusable(reply, target, request)      # refused, filtered, cut off, empty: tokens spent
        self._record(call_id, target, "error" if problem else "ok", shown_request,
                     {"text": reply.text, "finish_reason": reply.finish_reason, "tool_calls": reply.tool_calls,
                      **({"refusal": reply.refusal} if reply.refusal else {})},
                     {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                      "total_tokens": reply.prompt_tokens + reply.completion_tokens} if reported else None,
                     cost, started, str(problem) if problem else None, meta)
        if problem:
            raise problem
        return reply

    def _record(self, call_id: uuid.UUID, target: Target, status: str, request: Any, response: Any,
                usage: dict[str, int] | None, cost: Decimal | None, started: float, error: str | None,
                meta: dict[str, Any]) -> None:
        redact = self.redact
        self.ctx.record_call(CallRecord(
            id=call_id, kind="llm", target=target.ref, status=status, request=redact(request), response=redact(response),
            usage=usage, cost=float(cost) if cost is not None else None,
            latency_ms=int((time.monotonic() - started) * 1000), error=redact.text(error) if error else None,
            meta=redact(meta)))

    def _mark(self, **facts: Any) -> None:
        """Add facts to the last call's ``meta`` (read by the accounting in the step's commit)."""
        last = self.ctx.calls[-1]
        last.meta.update(facts)

    def _mark_structured(self, structured: Any, errors: list[str]) -> None:
        self._mark(structured={"valid": not errors, "errors": self.redact(errors), "data": self.redact(structured)})

    def _cool(self, credential_id: uuid.UUID, until: datetime) -> None:
        with self.sessions.begin() as session:
            cool_down(session, credential_id, until)

    def _backoff(self, failures: int) -> None:
        base = self.settings.llm_retry_backoff_seconds * 2 ** (failures - 1)
        self.ctx.heartbeat()
        time.sleep(min(MAX_BACKOFF_SECONDS, base * random.uniform(0.5, 1.5)))
        self.ctx.heartbeat()
