from api.resources.approvals.routes import blp

__all__ = ["blp"]
