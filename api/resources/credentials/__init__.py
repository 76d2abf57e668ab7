from api.resources.credentials.routes import blp

__all__ = ["blp"]
