from api.resources.apps.routes import blp

__all__ = ["blp"]
