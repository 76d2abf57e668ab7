from api.resources.notifications.routes import blp

__all__ = ["blp"]
