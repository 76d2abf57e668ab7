from api.resources.executions.routes import blp

__all__ = ["blp"]
