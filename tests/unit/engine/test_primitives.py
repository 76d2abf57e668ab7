"""Engine primitives for agents (turns, children and maps, contexts, messages), on SQLite and
PostgreSQL with an in-process dispatcher."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import marshmallow
import pytest
from sqlalchemy import func, select

from orchestrator.db import A2AMessage, Execution, ExecutionStep, SharedContext, StepCheckpoint
from orchestrator.db.types import utcnow
from orchestrator.engine import cancel, pause, resume, sweep
from orchestrator.nodes.base import Continue, NodeError, NodeType
from orchestrator.nodes.registry import register
from orchestrator.services import executions, workflows
from orchestrator.states import EXECUTION_ACTIVE
from tests.unit.engine.test_engine import load, slow_commit, submit


class _Turns(marshmallow.Schema):
    turns = marshmallow.fields.Integer(load_default=5)
    wait_seconds = marshmallow.fields.Float(load_default=0)


SEEN: list[tuple[int, object]] = []


@register
class TurnsNode(NodeType):
    """Continues ``turns`` times, counting in its checkpoint; records what each turn saw."""

    type_name = "test_turns"
    config_schema = _Turns

    def run(self, ctx):
        SEEN.append((ctx.turn, ctx.checkpoint))
        count = (ctx.checkpoint or {"count": 0})["count"]
        if ctx.turn < ctx.config["turns"]:
            ctx.send_message("next", "task", {"turn": ctx.turn})
            not_before = datetime.now(timezone.utc) + timedelta(seconds=ctx.config["wait_seconds"]) \
                if ctx.config["wait_seconds"] else None
            return Continue({"count": count + 1}, not_before=not_before, message=f"turn {ctx.turn} done")
        return {"count": count, "turns": ctx.turn}


class _Fail(marshmallow.Schema):
    pass


@register
class AlwaysFails(NodeType):
    type_name = "test_fails"
    config_schema = _Fail

    def run(self, ctx):
        raise NodeError("child went wrong")


def turns(n: int, wait: float = 0) -> dict:
    return {"name": "turns", "nodes": [{"id": "loop", "type": "test_turns", "config": {"turns": n, "wait_seconds": wait},
                                        "retry": {"max_attempts": 2, "backoff_seconds": 0}}]}


def test_a_node_continues_for_five_turns_then_completes(env):
    engine = env[0]
    SEEN.clear()
    execution, steps, events = load(env, submit(env, turns(5)))
    assert execution.status == "completed", execution.error_message
    assert steps["loop"].output == {"count": 5, "turns": 5} and steps["loop"].attempt == 1
    assert SEEN == [(0, None)] + [(t, {"count": t}) for t in range(1, 6)]
    kinds = [e.event_type for e in events if e.node_id == "loop"]
    assert kinds == ["step_queued"] + ["step_running", "step_turn"] * 5 + ["step_running", "step_completed"]
    assert [e.data["turn"] for e in events if e.event_type == "step_turn"] == [1, 2, 3, 4, 5]
    assert execution.step_count == 6            # each turn counts toward max_steps
    with engine.sessions() as s:
        sealed = s.scalars(select(StepCheckpoint.state_encrypted).where(
            StepCheckpoint.step_id == steps["loop"].id)).all()
        messages = s.scalars(select(A2AMessage).where(A2AMessage.execution_id == execution.id)
                             .order_by(A2AMessage.created_at)).all()
    assert len(sealed) == 5 and all(b'"count"' not in blob for blob in sealed)   # sealed, not plaintext
    assert [m.content for m in messages] == [{"turn": t} for t in range(5)]
    page = executions.list_messages(engine.sessions(), env[2], execution.id, limit=2)
    assert [m.content for m in page.items] == [{"turn": 0}, {"turn": 1}] and page.next_cursor


def test_max_steps_counts_turns(env):
    definition = {**turns(10), "max_steps": 4}
    execution, _, _ = load(env, submit(env, definition))
    assert execution.status == "failed" and "max_steps (4)" in execution.error_message


def test_pause_and_cancel_act_between_turns(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, turns(5), drain=False)
    dispatcher.drain(engine, limit=2)                      # turns 0 and 1
    pause(engine, execution_id)
    assert dispatcher.drain(engine) == 1                   # the queued turn 2 is dropped, not run
    _, steps, _ = load(env, execution_id)
    assert steps["loop"].status == "queued" and steps["loop"].turn == 2
    resume(engine, execution_id)
    dispatcher.drain(engine, limit=1)                      # turn 2 runs
    cancel(engine, execution_id)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "cancelled" and steps["loop"].status == "cancelled" and steps["loop"].turn == 3


def test_a_turn_parked_with_not_before_holds_no_message_until_due(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, turns(1, wait=60))
    _, steps, _ = load(env, execution_id)
    assert steps["loop"].status == "queued" and steps["loop"].dispatched_at is None
    assert steps["loop"].not_before > utcnow() + timedelta(seconds=50)
    sweep(engine)
    assert dispatcher.drain(engine) == 0                   # not due: the sweeper sends nothing
    with engine.sessions.begin() as s:
        s.get(type(steps["loop"]), steps["loop"].id).not_before = utcnow()
    sweep(engine)
    dispatcher.drain(engine)
    assert load(env, execution_id)[0].status == "completed"


def test_a_short_wait_goes_out_with_a_countdown(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, turns(1, wait=0.3))
    assert dispatcher.queue and dispatcher.queue[0].countdown > 0.1
    deadline = utcnow() + timedelta(seconds=5)
    while load(env, execution_id)[0].status != "completed" and utcnow() < deadline:
        dispatcher.drain(engine)
    assert load(env, execution_id)[0].status == "completed"


def test_a_failed_attempt_restarts_from_turn_zero(env):
    engine, dispatcher, _ = env
    SEEN.clear()
    execution_id = submit(env, turns(3), drain=False)
    dispatcher.drain(engine, limit=2)
    with engine.sessions() as s:
        step_id = s.scalar(select(StepCheckpoint.step_id))
    claim = engine.claim(dispatcher.queue[0].step_id, execution_id, "w", "t")
    dispatcher.queue.clear()
    engine.fail(claim, "boom", None)                       # turn 2 fails: a retry starts over
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed" and steps["loop"].attempt == 2 and steps["loop"].output["count"] == 3
    with engine.sessions() as s:
        assert s.scalar(select(func.count()).select_from(StepCheckpoint)
                        .where(StepCheckpoint.step_id == step_id)) == 3


# -- children -----------------------------------------------------------------------------

def child_workflow(env, definition: dict) -> str:
    engine, _, owner = env
    with engine.sessions() as s, s.begin():
        return str(workflows.create_workflow(s, engine.keyring, owner, definition).id)


DOUBLE = {"name": "double", "input_schema": {"type": "object", "required": ["n"]},
          "nodes": [{"id": "calc", "type": "transform", "config": {"output": {"n": "{{ input.n * 2 }}"}}}]}


def parent(config: dict, on_error: str = "fail") -> dict:
    return {"name": "parent", "nodes": [
        {"id": "sub", "type": "subworkflow", "config": config, "on_error": on_error, "default_output": {"d": 1}},
        {"id": "after", "type": "transform", "config": {"output": "{{ nodes.sub.output }}"}}],
        "edges": [{"source": "sub", "target": "after"}]}


def children_of(env, execution_id):
    with env[0].sessions() as s:
        return s.scalars(select(Execution).where(Execution.parent_execution_id == execution_id)).all()


def test_a_child_that_completes_completes_the_parent_step(env):
    child = child_workflow(env, DOUBLE)
    execution, steps, _ = load(env, submit(env, parent({"workflow": "double", "input": {"n": "{{ input.n }}"}}),
                                           {"n": 21}))
    assert execution.status == "completed", execution.error_message
    (kid,) = children_of(env, execution.id)
    assert kid.trigger == "subworkflow" and kid.parent_step_id == steps["sub"].id and kid.depth == 1
    assert str(kid.workflow_id) == child
    assert steps["sub"].output == {"execution_id": str(kid.id), "status": "completed", "output": {"calc": {"n": 42}}}
    assert steps["after"].output == steps["sub"].output
    page = executions.list_children(env[0].sessions(), env[2], execution.id)
    assert [c.id for c in page.items] == [kid.id]


def test_every_step_message_names_a_step_other_connections_can_read(env, monkeypatch):
    """A child's steps are created by its parent's transaction: their messages wait for its
    commit, while a successor's (a row that existed) may leave before it."""
    engine, dispatcher, _ = env
    child_workflow(env, DOUBLE)
    if engine.sql.name == "postgresql":
        slow_commit(engine, "INSERT", "NEW.node_id = 'calc'", seconds=0.5)     # the commit that starts it
    send, unseen = dispatcher.send, []

    def checking(messages):
        ids = {m.step_id for m in messages}
        with engine.db.connect() as conn:
            unseen.extend(ids - set(conn.scalars(select(ExecutionStep.id).where(ExecutionStep.id.in_(ids)))))
        send(messages)
    monkeypatch.setattr(dispatcher, "send", checking)
    execution, _, _ = load(env, submit(env, parent({"workflow": "double", "input": {"n": 1}})))
    assert execution.status == "completed" and len(children_of(env, execution.id)) == 1
    assert unseen == []


@pytest.mark.parametrize("on_error, status, sub_status, after_status", [
    ("fail", "failed", "failed", "cancelled"),
    ("continue", "completed", "failed", "completed"),
    ("default", "completed", "completed", "completed"),
])
def test_a_child_that_fails_under_each_on_error(env, on_error, status, sub_status, after_status):
    child_workflow(env, {"name": "broken", "nodes": [{"id": "x", "type": "test_fails"}]})
    execution, steps, _ = load(env, submit(env, parent({"workflow": "broken"}, on_error)))
    assert execution.status == status
    assert steps["sub"].status == sub_status and steps["after"].status == after_status
    assert "child execution" in steps["sub"].error_message and "child went wrong" in steps["sub"].error_message


def test_cancelling_a_parent_cancels_its_open_child(env):
    engine, dispatcher, _ = env
    child_workflow(env, {"name": "slow", "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 3600}}]})
    execution_id = submit(env, parent({"workflow": "slow"}))
    (kid,) = children_of(env, execution_id)
    assert kid.status == "running"
    cancel(engine, execution_id)
    dispatcher.drain(engine)
    assert children_of(env, execution_id)[0].status == "cancelled"
    assert load(env, execution_id)[1]["sub"].status == "cancelled"


def test_the_sweeper_cancels_children_of_a_parent_that_ended(env):
    engine, dispatcher, _ = env
    child_workflow(env, {"name": "slow", "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 3600}}]})
    execution_id = submit(env, parent({"workflow": "slow"}))
    engine.hooks.execution_ended.remove(next(h for h in engine.hooks.execution_ended if h.__name__ == "cancel_children"))
    cancel(engine, execution_id)                            # as if the process died before cancelling the child
    assert children_of(env, execution_id)[0].status == "running"
    sweep(engine)
    assert children_of(env, execution_id)[0].status == "cancelled"


def test_children_nest_no_deeper_than_the_limit(env):
    child_workflow(env, {"name": "recursive", "nodes": [
        {"id": "again", "type": "subworkflow", "config": {"workflow": "recursive"}}]})
    execution, steps, _ = load(env, submit(env, parent({"workflow": "recursive"})))
    assert execution.status == "failed"
    with env[0].sessions() as s:
        deepest = s.scalar(select(func.max(Execution.depth)))
        failures = s.scalars(select(Execution.error_message).where(Execution.depth == deepest)).all()
    assert deepest == 5 and "ORCHESTRATOR_MAX_CHILD_DEPTH" in failures[0]


def test_a_map_over_25_items_keeps_5_open_and_its_outputs_in_order(env):
    engine, dispatcher, _ = env
    child_workflow(env, DOUBLE)
    definition = parent({"workflow": "double", "for_each": "{{ input.items }}", "max_concurrency": 5,
                         "input": {"n": "{{ item }}", "i": "{{ index }}"}})
    execution_id = submit(env, definition, {"items": list(range(25))}, drain=False)
    most_open = 0
    while dispatcher.drain(engine, limit=1):
        with engine.sessions() as s:
            open_ = s.scalar(select(func.count()).select_from(Execution).where(
                Execution.parent_execution_id == execution_id,
                Execution.status.in_([st.value for st in EXECUTION_ACTIVE])))
        most_open = max(most_open, open_)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed", execution.error_message
    assert most_open == 5
    assert steps["sub"].output["outputs"] == [{"calc": {"n": 2 * i}} for i in range(25)]
    assert [item["status"] for item in steps["sub"].output["items"]] == ["completed"] * 25
    assert len(children_of(env, execution_id)) == 25


def test_a_map_over_an_empty_list_completes_at_once(env):
    child_workflow(env, DOUBLE)
    execution, steps, _ = load(env, submit(env, parent({"workflow": "double", "for_each": "{{ [] }}"})))
    assert execution.status == "completed" and steps["sub"].output == {"items": [], "outputs": []}


def test_a_map_over_too_many_items_fails_the_node(env):
    child_workflow(env, DOUBLE)
    execution, steps, _ = load(env, submit(env, parent({"workflow": "double", "for_each": "{{ range(1001) | list }}",
                                                        "input": {"n": "{{ item }}"}})))
    assert execution.status == "failed" and "ORCHESTRATOR_MAX_MAP_ITEMS" in steps["sub"].error_message
    assert steps["sub"].attempt == 1 and children_of(env, execution.id) == []


def test_an_unknown_child_workflow_fails_the_node_once(env):
    execution, steps, _ = load(env, submit(env, parent({"workflow": "nowhere"})))
    assert execution.status == "failed" and "workflow 'nowhere' not found" in steps["sub"].error_message


# -- contexts -----------------------------------------------------------------------------

def test_context_write_is_read_by_a_later_template(env):
    definition = {"name": "ctx", "nodes": [
        {"id": "first", "type": "transform", "config": {"output": {"topic": "tides"}},
         "context_write": {"namespace": "research", "value": {"topic": "{{ output.topic }}"}}},
        {"id": "second", "type": "transform", "config": {"output": {"more": 1}},
         "context_write": {"namespace": "research", "value": {"count": "{{ output.more }}"}}},
        {"id": "third", "type": "transform", "config": {"output": "{{ context.research }}"}}],
        "edges": [{"source": "first", "target": "second"}, {"source": "second", "target": "third"}]}
    execution, steps, _ = load(env, submit(env, definition))
    assert execution.status == "completed", execution.error_message
    assert steps["third"].output == {"topic": "tides", "count": 1}          # merged
    with env[0].sessions() as s:
        (row,) = s.scalars(select(SharedContext).where(SharedContext.execution_id == execution.id)).all()
    assert row.namespace == "research"
    page = executions.list_contexts(env[0].sessions(), env[2], execution.id)
    assert [(c.namespace, c.data) for c in page.items] == [("research", {"topic": "tides", "count": 1})]


@register
class WritesThenFails(NodeType):
    """Writes the shared context ``notes`` in each turn; its second turn then fails."""

    type_name = "test_writes_then_fails"
    config_schema = _Fail

    def run(self, ctx):
        ctx.write_context("notes", {f"turn{ctx.turn}": True})
        if ctx.turn == 0:
            return Continue({})
        raise NodeError("second turn went wrong", retryable=False)


def test_a_nodes_context_write_lands_with_its_turn_and_not_with_a_failed_one(env):
    execution, steps, _ = load(env, submit(env, {"name": "w", "nodes": [
        {"id": "w", "type": "test_writes_then_fails", "config": {}}]}))
    assert (execution.status, steps["w"].error_message) == ("failed", "second turn went wrong")
    with env[0].sessions() as s:
        assert s.scalars(select(SharedContext.data).where(SharedContext.execution_id == execution.id)).all() == \
            [{"turn0": True}]


# -- an approval the node takes up itself -------------------------------------------------

class _Ask(marshmallow.Schema):
    pass


@register
class AsksFirst(NodeType):
    """Asks a human before its second turn, then reports what was decided."""

    type_name = "test_asks"
    config_schema = _Ask

    def run(self, ctx):
        from orchestrator.nodes.base import ApprovalRequest, Suspend
        if ctx.checkpoint is None:
            return Suspend(approval=ApprovalRequest(utcnow() + timedelta(hours=1), details={"tool": "send", "to": "x"}),
                           state={"asked": True})
        return {"seen": ctx.checkpoint, "turn": ctx.turn}


@pytest.mark.parametrize("approved", [True, False])
def test_a_node_that_asks_a_human_goes_on_with_the_decision(env, approved):
    from orchestrator.db import HumanApproval
    from orchestrator.engine import decide_approval
    engine, dispatcher, _ = env
    execution_id = submit(env, {"name": "ask", "nodes": [{"id": "ask", "type": "test_asks"}]})
    with engine.sessions() as s:
        approval = s.scalars(select(HumanApproval)).one()
    assert approval.details == {"tool": "send", "to": "x"}
    assert load(env, execution_id)[1]["ask"].status == "waiting"
    decide_approval(engine, approved, {"note": "ok"}, approval_id=approval.id)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed"
    assert steps["ask"].output == {"turn": 1, "seen": {"asked": True, "approval": {
        "note": "ok", "approved": approved, "status": "approved" if approved else "rejected"}}}
