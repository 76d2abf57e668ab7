from api.resources.endpoints.routes import blp

__all__ = ["blp"]
