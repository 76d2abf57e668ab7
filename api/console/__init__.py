"""The web console at /ui: pages over the same services as the API, served by the API process."""
from api.console import routes, workflows  # noqa: F401  (their views register on the blueprint)
from api.console.site import blp

__all__ = ["blp"]
