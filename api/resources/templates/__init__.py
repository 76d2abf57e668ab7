from api.resources.templates.routes import blp

__all__ = ["blp"]
