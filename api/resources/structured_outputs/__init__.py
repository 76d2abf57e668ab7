from api.resources.structured_outputs.routes import blp

__all__ = ["blp"]
