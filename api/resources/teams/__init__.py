from api.resources.teams.routes import blp

__all__ = ["blp"]
