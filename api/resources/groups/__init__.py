from api.resources.groups.routes import blp

__all__ = ["blp"]
