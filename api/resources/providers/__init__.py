from api.resources.providers.routes import blp

__all__ = ["blp"]
