"""Housekeeping the worker runs by itself (``PERIODIC_TASKS``)."""

from importlib import import_module

from django.conf import settings

from . import background


@background("Nettoyage des sessions expirées (quotidien)")
def clear_expired_sessions() -> None:
    """Delete expired sessions from the database, as ``manage.py clearsessions`` does."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
