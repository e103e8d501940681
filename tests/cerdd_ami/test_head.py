"""Every page that answers GET answers HEAD the same way (uptime monitors and link checkers
send HEAD): a view limited to GET must say ``require_safe``, never ``require_GET``."""

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from cerdd_ami.permissions import sync_role_permissions
from tests.factories import UserFactory, charge_de_mission

pytestmark = pytest.mark.django_db

# Objects that do not exist: the method check of a view runs before its lookup, so a view that
# refuses HEAD says 405 even here, and one that accepts it says 404 (or sends to the login).
SAMPLE = {"int": "999999", "str": "x", "slug": "x", "path": "x", "uuid": str(uuid.uuid4())}
CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?\w+>")


def routes(patterns=None, prefix=""):
    """Every URL of the project, its parameters filled with sample values (regex-only patterns,
    the admin's app index among them, are left out: no sample fits them)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue
        route = prefix + CONVERTER.sub(
            lambda match: SAMPLE[match.group("kind") or "str"], str(entry.pattern)
        )
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route


def test_routes_cover_public_applicant_cycle_and_admin_pages():
    found = set(routes())
    assert {"/", "/healthz", "/connexion/", "/candidature/999999/", "/cycle/"} <= found
    assert "/admin/candidatures/appel/x/change/" in found


@pytest.mark.parametrize("role", ["anonyme", "candidat·e", "chargé·e de mission"])
def test_every_page_answering_get_answers_head_alike(client, role):
    sync_role_permissions()
    user = {"anonyme": None, "candidat·e": UserFactory(), "chargé·e de mission": None}[role]
    if role == "chargé·e de mission":
        user = charge_de_mission()
    differences = {}
    for url in sorted(set(routes())):
        if user is not None:
            client.force_login(user)  # « Se déconnecter » answers GET too.
        head = client.head(url).status_code
        if user is not None:
            client.force_login(user)
        get = client.get(url).status_code
        # The admin's login page sends a signed-in user away on GET only: Django's choice.
        if get != 405 and (head == 405 or head >= 500 or (head < 400) != (get < 400)):
            differences[url] = (get, head)
    assert differences == {}


def test_history_pages_of_a_malformed_id_are_404_not_500(client):
    sync_role_permissions()
    client.force_login(charge_de_mission())
    for url in [
        "/admin/candidatures/conflitinteret/x/history/",
        "/admin/candidatures/conflitinteret/x/history/1/",
        "/admin/candidatures/conflitinteret/999999/history/x/",
    ]:
        assert (url, client.get(url).status_code) == (url, 404)
