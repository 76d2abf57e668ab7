"""/docs: Swagger UI served from the swagger-ui-bundle package, so it works offline."""
from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets"


def swagger_ui_assets() -> Blueprint:
    return Blueprint("swagger_ui_assets", __name__, static_folder=swagger_ui_path, static_url_path=ASSETS_URL)
