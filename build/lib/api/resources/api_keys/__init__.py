from api.resources.api_keys.routes import blp

__all__ = ["blp"]
