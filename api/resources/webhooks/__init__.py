from api.resources.webhooks.routes import blp

__all__ = ["blp"]
