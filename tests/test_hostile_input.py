"""Hostile input everywhere: every URL pattern of the project and every public form, fed NUL
bytes, lone surrogates and very long strings, answers a 4xx or a French message, never a 5xx.

The URL patterns are read from the URLconf (a new page is covered without editing this
module) and filled with the real objects of the permissions matrix's world; the forms are the
ones the applicant's and the participant's pages actually show, parsed from their HTML.
"""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidatures.models import Candidature
from tests.candidatures.factories import AppelFactory, CandidatureFactory, tiny_pdf_bytes
from tests.factories import UserFactory
from tests.hostile import multipart, query_string, urlencoded

# The permissions matrix's world (a decided 2021 call, its cycle, jurors, staff) as a fixture.
from tests.test_permissions_matrix import world as world

pytestmark = pytest.mark.django_db

# The query parameters views and the admin read, and a few nobody reads.
KEYS = ["q", "next", "appel", "candidature", "version", "tri", "i", "o", "p", "e", "page"]
KEYS += ["all", "_changelist_filters", "_popup", "_to_field", "statut__exact", "inconnu"]

LONG = "é" * 3000
SURROGATE = "\ud800"
# Text a broken or hostile client sends: NUL, lone surrogates, control characters, any script.
HOSTILE_CHARACTERS = st.characters(exclude_categories=()) | st.sampled_from(["\x00", SURROGATE])
HOSTILE_TEXT = st.one_of(
    st.text(HOSTILE_CHARACTERS, max_size=40),
    st.text(HOSTILE_CHARACTERS, min_size=1, max_size=5).map(lambda text: text * 1000),
    st.sampled_from(["\x00", SURROGATE, LONG, "-1", "0", "9" * 30, "../../etc/passwd", "=1+1"]),
)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), getattr(pattern.callback, "model_admin", None)


def _concrete(route: str, model_admin, values: dict) -> str:
    """``route`` with each converter replaced by a real object's key."""
    route = route.replace("^(?P<app_label>", "(?P<app_label>")
    route = re.sub(r"\(\?P<app_label>[^)]*\)", "candidatures", route)
    route = route.replace("(?P<url>.*)", "inconnue/").replace("$", "").replace("^", "")

    def value(match):
        name = match.group(1)
        if name in values:
            return str(values[name])
        if model_admin is not None and name in {"object_id", "pk"}:
            first = model_admin.model._default_manager.order_by("pk").first()
            return str(first.pk if first else 1)
        return str(values.get("fallback", 1))

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


@pytest.fixture
def urls(world):
    users, world_values = world
    open_call = AppelFactory(slug="ouvert")
    brouillon = CandidatureFactory(appel=open_call, createur=users["candidat"])
    values = {
        "pk": world_values["pk"],
        "piece_pk": world_values["piece"],
        "version": 1,
        "step": 1,
        "slug": open_call.slug,
        "participant_pk": world_values["participant"],
        "numero": 1,
        "seance_numero": 1,
        "document_pk": world_values["document"],
        "membre_pk": world_values["membre"],
        "entree_pk": world_values["entree_partagee"],
        "cycle_pk": world_values["cycle"],
        "appel_pk": world_values["appel"],
        "message_id": "inconnu",
        "index": 0,
        "id": users["charge"].pk,
        "content_type_id": ContentType.objects.get_for_model(Candidature).pk,
    }
    found = sorted(
        {_concrete(route, admin, values) for route, admin in _walk(get_resolver().url_patterns)}
    )
    users["superuser"] = UserFactory(is_staff=True, is_superuser=True)
    return found, users, brouillon


def _roles_for(url: str) -> list[str]:
    # Anonymous visitors of the admin only meet its login redirect, and the chargé·e sees a
    # subset of what the superuser sees: both are left to the hypothesis walk.
    if url.startswith("/admin/"):
        return ["jure", "superuser"]
    return ["anonyme", "candidat"]


def _login(client, users, role):
    client.logout()
    if users[role] is not None:
        client.force_login(users[role])


def test_every_url_pattern_is_covered(urls):
    found, _users, _brouillon = urls

    assert len(found) > 150
    assert "/candidature/nouvelle/ouvert/" in found
    assert not [url for url in found if "<" in url or "(?P" in url]


def test_every_url_with_hostile_query_parameters_never_answers_5xx(client, urls):
    found, users, _brouillon = urls
    hostile = query_string(dict.fromkeys(KEYS, LONG + SURROGATE + "'\"<>"))
    failures = []
    for role in ["anonyme", "candidat", "jure", "superuser"]:
        _login(client, users, role)
        for url in [url for url in found if role in _roles_for(url)]:
            status = client.get(f"{url}?{hostile}").status_code
            if status >= 500:
                failures.append((url, role, status))
    # A NUL is refused before any view runs, whoever asks.
    statuses = {url: client.get(f"{url}?q=%00&next=%00").status_code for url in found}

    assert failures == []
    assert set(statuses.values()) == {400}


def test_any_url_with_hypothesis_query_parameters_never_answers_5xx(client, urls):
    found, users, _brouillon = urls

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        url=st.sampled_from(found),
        role_index=st.integers(0, 1),
        params=st.dictionaries(st.sampled_from(KEYS) | HOSTILE_TEXT, HOSTILE_TEXT, max_size=4),
    )
    def check(url, role_index, params):
        roles = _roles_for(url)
        _login(client, users, roles[role_index])
        status = client.get(f"{url}?{query_string(params)}").status_code
        assert status < 500, (url, params)

    check()


class _FormParser(HTMLParser):
    """The POST forms of a page: action, field names, submit button names, file fields."""

    def __init__(self, page_url):
        super().__init__()
        self.page_url = page_url
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self.forms.append(
                {"action": attrs.get("action") or self.page_url, "fields": [], "files": []}
            )
            self.forms[-1]["buttons"] = []
        elif not self.forms or "name" not in attrs:
            return
        elif tag == "button" or attrs.get("type") == "submit":
            self.forms[-1]["buttons"].append(attrs["name"])
        elif tag == "input" and attrs.get("type") == "file":
            self.forms[-1]["files"].append(attrs["name"])
        elif tag in {"input", "textarea", "select"} and attrs["name"] != "csrfmiddlewaretoken":
            self.forms[-1]["fields"].append(attrs["name"])


PUBLIC_PAGES = [
    ("anonyme", "/connexion/"),
    ("anonyme", "/admin/login/"),
    ("anonyme", "/notifications/desabonnement/{desabonnement}/"),
    ("candidat", "/notifications/"),
    ("candidat", "/candidature/{pk}/messages/"),
    ("candidat", "/candidature/nouvelle/ouvert/?autre=1&q=arras"),
    ("candidat", "/candidature/{brouillon}/"),
    *[("candidat", f"/candidature/{{brouillon}}/etape/{step}/") for step in range(1, 6)],
    ("candidat", "/cycle/{participant}/binome/"),
    ("candidat", "/cycle/{participant}/sondage/"),
    ("candidat", "/cycle/{participant}/engagements/"),
    ("candidat", "/cycle/{participant}/journal/"),
    ("candidat", "/cycle/{participant}/journal/{entree}/modifier/"),
    ("candidat", "/cycle/{participant}/questions/"),
    ("candidat", "/cycle/{participant}/reseau/annuaire/"),
    ("candidat", "/cycle/{participant}/reseau/discussions/"),
    ("candidat", "/cycle/{participant}/reseau/discussions/{discussion}/"),
]


def _public_forms(client, users, brouillon, world_values):
    forms = []
    for role, template in PUBLIC_PAGES:
        page = template.format(
            brouillon=brouillon.pk,
            participant=world_values["participant"],
            entree=world_values["entree_privee"],
            pk=world_values["pk"],
            discussion=world_values["discussion"],
            desabonnement=world_values["desabonnement"],
        )
        _login(client, users, role)
        response = client.get(page)
        assert response.status_code == 200, page
        parser = _FormParser(page.split("?")[0])
        parser.feed(response.content.decode())
        forms += [(role, form) for form in parser.forms if form["fields"] or form["files"]]
    return forms


def test_every_public_form_posted_with_hostile_text_never_answers_5xx(client, urls, world):
    _found, users, brouillon = urls
    forms = _public_forms(client, users, brouillon, world[1])
    assert len(forms) >= 10
    assert {"/admin/login/", f"/candidature/{brouillon.pk}/inviter/"} <= {
        form["action"].split("?")[0] for _role, form in forms
    }
    # A withdrawal or a deletion would end the walk early: they are tested where they belong.
    forms = [(role, form) for role, form in forms if "supprimer" not in form["action"]]

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data):
        role, form = data.draw(st.sampled_from(forms))
        fields = {name: data.draw(HOSTILE_TEXT) for name in form["fields"]}
        if form["buttons"]:
            fields[data.draw(st.sampled_from(form["buttons"]))] = ""
        _login(client, users, role)
        if form["files"]:
            files = {
                name: (data.draw(HOSTILE_TEXT), tiny_pdf_bytes(), "application/pdf")
                for name in form["files"]
            }
            body, content_type = multipart(fields, files)
        else:
            body, content_type = urlencoded(fields), "application/x-www-form-urlencoded"
        status = client.post(form["action"], data=body, content_type=content_type).status_code
        assert status < 500, (form["action"], fields)

    check()
