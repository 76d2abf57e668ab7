from api.resources.agents.routes import blp

__all__ = ["blp"]
