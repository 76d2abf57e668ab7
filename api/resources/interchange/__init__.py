from api.resources.interchange.routes import blp

__all__ = ["blp"]
