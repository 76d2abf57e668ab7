from api.resources.app_calls.routes import blp

__all__ = ["blp"]
