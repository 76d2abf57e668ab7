from api.resources.models.routes import blp

__all__ = ["blp"]
