"""Human approvals as the API shows them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import ApprovalStatus


class ApprovalQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(ApprovalStatus.values()))


class DecisionSchema(Schema):
    decision_data = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "Merged into the step's output on approval ({approved: true, ...decision_data})"})


class ApprovalSchema(Schema):
    id = fields.UUID(required=True)
    execution_id = fields.UUID(required=True)
    node_id = fields.String(required=True)
    approver_email = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(ApprovalStatus.values()))
    expires_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(required=True, allow_none=True)
    decision_data = fields.Dict(required=True, allow_none=True)


ApprovalPageSchema = page_of(ApprovalSchema, "ApprovalPage")
