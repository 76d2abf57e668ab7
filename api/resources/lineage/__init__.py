from api.resources.lineage.routes import blp

__all__ = ["blp"]
