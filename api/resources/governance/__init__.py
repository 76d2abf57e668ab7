from api.resources.governance.routes import blp

__all__ = ["blp"]
