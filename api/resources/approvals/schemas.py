"""Human approvals as the API shows them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import ApprovalStatus


class ApprovalQuery(PageQuery):
    status = fields.String(validate=validate.OneOf((*ApprovalStatus.values(), "all")),
                           metadata={"description": "Only approvals in this status; all (or none given): every one"})


class DecisionSchema(Schema):
    decision_data = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "Merged into the step's output on approval ({approved: true, ...decision_data}); "
                       "it may not hold `approved`, which is the decision itself"})


class TokenDecisionSchema(DecisionSchema):
    token = fields.String(required=True, validate=validate.Length(1, 200),
                          metadata={"description": "The approval_token sent to notify_url"})


class ApprovalSchema(Schema):
    id = fields.UUID(required=True)
    execution_id = fields.UUID(required=True)
    node_id = fields.String(required=True)
    approver_email = fields.String(required=True, allow_none=True)
    details = fields.Dict(required=True, allow_none=True,
                          metadata={"description": "What is to be decided, as the node put it (e.g. a tool call)"})
    status = fields.String(required=True, validate=validate.OneOf(ApprovalStatus.values()))
    expires_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    decision_data = fields.Dict(required=True, allow_none=True)


ApprovalPageSchema = page_of(ApprovalSchema, "ApprovalPage")
