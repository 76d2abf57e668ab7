"""Model usage and cost over time."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.schemas import page_of
from orchestrator.services import usage
from orchestrator.services.usage import DEFAULT_DAYS, GROUPS

blp = Blueprint("usage", __name__, description="Model requests, tokens and cost per day, model or workflow")


class UsageQuery(Schema):
    start = fields.Date(data_key="from", metadata={"description": f"First day (UTC), default {DEFAULT_DAYS - 1} days "
                                                                  "before to"})
    end = fields.Date(data_key="to", metadata={"description": "Last day (UTC), included; default today"})
    group_by = fields.String(load_default="day", validate=validate.OneOf(GROUPS),
                             metadata={"description": "day_model: one row per day, provider and model"})
    provider = fields.String(metadata={"description": "Only this provider's calls (its name)"})
    model = fields.String(metadata={"description": "Only the calls to this model id"})


class UsageItemSchema(Schema):
    day = fields.Date(metadata={"description": "With group_by=day or day_model"})
    provider = fields.String(metadata={"description": "With group_by=model or day_model"})
    model = fields.String(metadata={"description": "With group_by=model or day_model"})
    workflow_id = fields.UUID(metadata={"description": "With group_by=workflow"})
    workflow_name = fields.String(metadata={"description": "With group_by=workflow"})
    requests = fields.Integer(required=True)
    prompt_tokens = fields.Integer(required=True)
    completion_tokens = fields.Integer(required=True)
    total_tokens = fields.Integer(required=True)
    cost = fields.Float(required=True, allow_none=True,
                        metadata={"description": "Of the calls whose model has prices; null if none had"})


@blp.route("/usage")
@blp.arguments(UsageQuery, location="query")
@blp.response(200, page_of(UsageItemSchema, "UsagePage", "Always null: one page holds every group"))
def get_usage(query):
    """Usage summed by day, model, workflow or day and model between two days"""
    start, end = usage.window(query.get("start"), query.get("end"))
    with transaction() as session:
        return usage.usage(session, owner(), start, end, query["group_by"], provider=query.get("provider"),
                           model=query.get("model"))
