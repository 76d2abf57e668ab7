from api.resources.workflows.routes import blp

__all__ = ["blp"]
