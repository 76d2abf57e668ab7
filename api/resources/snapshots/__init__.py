from api.resources.snapshots.routes import blp

__all__ = ["blp"]
