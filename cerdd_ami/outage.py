"""A database that is down answers 503 « service momentanément indisponible », not 500.

PostgreSQL restarting (an upgrade, a failover, the embedded server stopped under runserver)
makes every query raise OperationalError or InterfaceError. The page says to retry and
touches nothing that needs the database (no session, no user, no context processor). With
CONN_HEALTH_CHECKS the next request after the restart opens a fresh connection by itself.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

DATABASE_DOWN = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def unavailable_response() -> HttpResponse:
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a database outage met by a view into the 503 page (in DEBUG too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_DOWN):
            logger.warning(
                "Base de données injoignable (%s) : 503 pour %s", exception, request.path
            )
            return unavailable_response()
        return None


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: an outage met outside a view (session, authentication) is a 503 too."""
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        return unavailable_response()
    return defaults.server_error(request, template_name)
