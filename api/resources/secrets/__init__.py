from api.resources.secrets.routes import blp

__all__ = ["blp"]
