from api.resources.calls.routes import blp

__all__ = ["blp"]
