"""Outbound notifications in the engine, on SQLite and PostgreSQL: the transition hooks write a
delivery in the transaction of the transition they tell of, for each target that wants it;
notifiers claim each due delivery once, however many run at once."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from orchestrator.db import ExecutionEvent, HumanApproval, NotificationDelivery
from orchestrator.db.types import utcnow
from orchestrator.engine.control import decide_approval
from orchestrator.services import executions, notifications, workflows
from orchestrator.services.deliveries import _claim, deliver_due

APPROVAL = {"name": "approve", "nodes": [
    {"id": "ask", "type": "human_approval", "config": {"expires_in_seconds": 600}},
    {"id": "go", "type": "transform", "config": {"output": "{{ nodes.ask.output }}"}}],
    "edges": [{"source": "ask", "target": "go"}]}


def deliveries(engine, execution_id):
    with engine.sessions() as s:
        return s.scalars(select(NotificationDelivery).where(NotificationDelivery.execution_id == execution_id)
                         .order_by(NotificationDelivery.event_seq, NotificationDelivery.event)).all()


def seq_of(engine, execution_id, event_type):
    with engine.sessions() as s:
        return s.scalar(select(ExecutionEvent.seq).where(ExecutionEvent.execution_id == execution_id,
                                                         ExecutionEvent.event_type == event_type))


def test_an_approval_wait_and_an_end_are_each_told_to_the_targets_that_want_them(env):
    engine, dispatcher, owner = env
    with engine.sessions() as s, s.begin():
        workflow = workflows.create_workflow(s, engine.keyring, owner, APPROVAL)
        notifications.create_target(s, engine.keyring, owner, workflow.id, "http://127.0.0.1:9/all")
    execution, _ = executions.submit(engine, owner, workflow.id, {}, notify={
        "url": "http://127.0.0.1:9/mine", "events": ["execution.completed"]})
    dispatcher.drain(engine)
    [waiting] = deliveries(engine, execution.id)
    assert (waiting.event, waiting.event_seq) == ("approval.waiting", seq_of(engine, execution.id, "step_waiting"))
    with engine.sessions() as s:
        approval = s.scalar(select(HumanApproval).where(HumanApproval.execution_id == execution.id))
    assert waiting.payload["approval"] == {"id": str(approval.id), "node_id": "ask",
                                           "expires_at": approval.expires_at.isoformat(), "approver_email": None,
                                           "details": None}
    decide_approval(engine, True, {"by": "me"}, approval_id=approval.id, owner_id=owner.id)
    dispatcher.drain(engine)
    told = deliveries(engine, execution.id)[1:]
    completed_seq = seq_of(engine, execution.id, "execution_completed")
    assert [(d.event, d.event_seq) for d in told] == [("execution.completed", completed_seq)] * 2
    targets = {d.target_id for d in told}
    assert len(targets) == 2 and waiting.target_id in targets       # the workflow's and the execution's
    assert told[0].payload["execution"]["output"] == {"go": {"approved": True, "by": "me"}}
    assert told[0].payload["execution"]["status"] == "completed" and told[0].payload["id"] == str(told[0].id)


def test_a_refused_address_fails_the_delivery_without_a_request(env):
    engine, dispatcher, owner = env
    with engine.sessions() as s, s.begin():
        workflow = workflows.create_workflow(s, engine.keyring, owner, {"name": "one", "nodes": [
            {"id": "a", "type": "noop"}]})
        notifications.create_target(s, engine.keyring, owner, workflow.id, "http://127.0.0.1:9/hook")
    execution, _ = executions.submit(engine, owner, workflow.id, {})
    dispatcher.drain(engine)
    assert deliver_due(engine) == 1
    [delivery] = deliveries(engine, execution.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, None)
    assert "ORCHESTRATOR_HTTP_ALLOW_PRIVATE" in delivery.last_error and delivery.next_attempt_at is None


def test_notifiers_running_at_once_claim_each_delivery_once(env):
    engine, dispatcher, owner = env
    with engine.sessions() as s, s.begin():
        workflow = workflows.create_workflow(s, engine.keyring, owner, {"name": "many", "nodes": [
            {"id": "a", "type": "noop"}]})
        for i in range(3):
            notifications.create_target(s, engine.keyring, owner, workflow.id, f"http://127.0.0.1:9/{i}")
    for _ in range(10):
        executions.submit(engine, owner, workflow.id, {})
    dispatcher.drain(engine)
    claimed: list = []
    start = threading.Barrier(4)

    def notifier():
        start.wait()
        while batch := _claim(engine, utcnow()):
            claimed.extend(batch)
    threads = [threading.Thread(target=notifier) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(claimed) == 30 and len({d.id for d in claimed}) == 30
    assert {d.url for d in claimed} == {f"http://127.0.0.1:9/{i}" for i in range(3)}
    assert _claim(engine, utcnow()) == []                               # each is leased now
    with engine.sessions.begin() as s:                                  # the lease runs out
        s.execute(update(NotificationDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert len(_claim(engine, utcnow())) == 20 and all(d.attempts == 2 for d in _claim(engine, utcnow()))
