from importlib.metadata import version

from .celery import app as celery_app

__all__ = ["__version__", "celery_app"]
__version__ = version("switchyard")
