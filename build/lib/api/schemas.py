"""Schemas that every resource shares: paging, and the page envelope of DESIGN section 6."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from orchestrator.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

# The largest value an INTEGER column holds on PostgreSQL.
INT_MAX = 2**31 - 1


class PageQuery(Schema):
    cursor = fields.String(validate=validate.Length(1, 500),
                           metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))


def page_of(item: type[Schema], name: str, cursor: str = "Pass as `cursor` for the next page; null on the last") \
        -> type[Schema]:
    """``{items: [...], next_cursor}``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(required=True, allow_none=True, metadata={"description": cursor}),
    }, name=name)
