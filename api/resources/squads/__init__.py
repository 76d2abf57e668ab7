from api.resources.squads.routes import blp

__all__ = ["blp"]
