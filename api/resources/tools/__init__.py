from api.resources.tools.routes import blp

__all__ = ["blp"]
