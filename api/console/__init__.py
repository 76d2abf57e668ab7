"""The web console at /ui: pages over the same services as the API, served by the API process."""
from api.console.routes import blp

__all__ = ["blp"]
