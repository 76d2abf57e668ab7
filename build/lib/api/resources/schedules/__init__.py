from api.resources.schedules.routes import blp

__all__ = ["blp"]
