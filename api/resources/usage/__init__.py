from api.resources.usage.routes import blp

__all__ = ["blp"]
