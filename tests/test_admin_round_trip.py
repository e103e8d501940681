"""Admin round trip over the seeded demo: every page of the admin, for every staff and juror
role, answers without a server error, and every change form saved back unchanged is accepted.

The demo (seeded once per test process: tests/demo_snapshot.py) is restored for the module
inside a transaction rolled back at the end; each test runs in its own savepoint, so a form
posted back changes nothing for the next one. A new ModelAdmin or custom admin view is covered
without editing this file; a custom view whose URL takes a parameter nobody provides fails
``test_every_custom_view_…``.
"""

import re
from html import unescape

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import RequestFactory
from django.test.utils import override_settings
from django.urls import Resolver404, URLPattern, resolve, reverse

from candidatures.decisions import exports
from candidatures.models import Appel, Candidature, Decision, Export
from cerdd_ami.models import User
from cycle.models import Cycle, DocumentSeance, MembreBinome
from tests.demo_snapshot import restore
from tests.html_forms import FormNotFound, parse_form

pytestmark = pytest.mark.django_db

ROLES = {
    "superuser": "admin@cerdd.test",
    "charge": "charge@cerdd.test",
    "direction": "directeur@cerdd.test",
    "jure": "jury1@cerdd.test",
}
PER_MODEL = 2  # change pages per model and role: the first and the last
STANDARD_VIEWS = ("changelist", "add", "history", "delete", "change", "simple_history")
# Tables the demo leaves empty: sign-in failures happen only when someone fails; the demo's
# jurors score every dossier they may see, so no dossier is assigned to a few of them.
# Background tasks: the tests run them on commit, without the queue's rows
# (tests/cerdd_ami/tasks/test_admin.py covers their pages).
EMPTY_IN_DEMO = {
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "candidatures.Affectation",
    "cerdd_ami.Tache",
}
# Answers a role gets where it may not go, or for a page that is only POSTed to.
REFUSALS = {302, 403, 404, 405}

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, tmp_path_factory, demo_snapshot):
    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=media, DEV_OUTBOX_DIR=media / "mail"),
        transaction.atomic(),
    ):
        restore(demo_snapshot)  # the demo, seeded once per test process
        User.objects.create_superuser(email=ROLES["superuser"], password="demo-cerdd")
        # The demo makes no export (they are made on request): one asked for, not built yet
        # (its task would run on a commit that never comes), for the export pages.
        exports.request_export(
            kind=Export.Kind.PROCES_VERBAL,
            requested_by=User.objects.get(email=ROLES["charge"]),
            appel=Appel.objects.get(slug="2021"),
        )
        yield media
        transaction.set_rollback(True)
    ContentType.objects.clear_cache()


@pytest.fixture(autouse=True)
def _private_media(demo, settings):
    # The demo's files (letters, receipts, pieces) live where the module's seed put them.
    settings.MEDIA_ROOT = demo
    settings.DEV_OUTBOX_DIR = demo / "mail"


def signed_in(client, role):
    user = User.objects.get(email=ROLES[role])
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def spread(pks: list, count: int) -> list:
    """Up to ``count`` items spread over the list: the first, …, the last."""
    if len(pks) <= count:
        return pks
    step = (len(pks) - 1) / (count - 1)
    return [pks[round(index * step)] for index in range(count)]


def form_errors(content: bytes) -> str:
    text = content.decode()
    found = re.findall(r'class="(?:errornote|errorlist[^"]*)"[^>]*>(.*?)</(?:p|ul)>', text, re.S)
    return " | ".join(" ".join(unescape(re.sub(r"<[^>]+>", " ", e)).split()) for e in found)


def admin_links(content: bytes) -> set[str]:
    return {
        unescape(href)
        for href in re.findall(r'href="(/admin/[^"#]*)"', content.decode(errors="replace"))
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("model", "model_admin"),
    MODEL_ADMINS,
    ids=[model._meta.label for model, _ in MODEL_ADMINS],
)
def test_model_admin_pages_and_unchanged_save_never_fail(client, role, model, model_admin):
    request = signed_in(client, role)
    opts = model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    problems: list[str] = []

    def get(url, allowed=frozenset({200}) | REFUSALS):
        response = client.get(url)
        if response.status_code not in allowed:
            problems.append(f"GET {url} → {response.status_code}")
        return response

    changelist = get(reverse(f"{name}_changelist"))
    get(reverse(f"{name}_add"))

    may_view = model_admin.has_view_or_change_permission(request)
    if may_view != (changelist.status_code == 200):
        problems.append(f"liste : {changelist.status_code}, droit de lecture : {may_view}")
    queryset = model_admin.get_queryset(request) if may_view else model._default_manager.all()
    pks = spread(list(queryset.order_by("pk").values_list("pk", flat=True)), PER_MODEL)
    if opts.label not in EMPTY_IN_DEMO:
        assert model._default_manager.exists(), (
            f"La démo ne contient aucun objet {opts.label} : rien à vérifier."
        )

    for pk in pks:
        url = reverse(f"{name}_change", args=[pk])
        page = get(url)
        history = get(reverse(f"{name}_history", args=[pk]))
        if history.status_code == 200:
            versions = sorted(
                link for link in admin_links(history.content) if link.startswith(url[:-7])
            )
            for link in versions[:1]:
                get(link)
        if page.status_code != 200:
            continue
        try:
            form = parse_form(page.content, f"{opts.model_name}_form")
        except FormNotFound:
            problems.append(f"GET {url} : pas de formulaire {opts.model_name}_form")
            continue
        if "_save" not in dict(form.submits):
            continue  # read-only for this role
        response = client.post(url, form.data("_save"))
        if response.status_code != 302:
            problems.append(
                f"POST {url} (inchangé) → {response.status_code} {form_errors(response.content)}"
            )

    assert problems == []


# ---------------------------------------------------------------------------------------------
# Custom admin views: ranking, jury, exports, letters, attendance, journal…


def custom_patterns():
    """(model admin, URL pattern) of every admin view that is not a standard ModelAdmin one."""
    found = []
    for model, model_admin in MODEL_ADMINS:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        standard = {prefix + view for view in STANDARD_VIEWS}
        for pattern in model_admin.get_urls():
            if isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard:
                found.append((model, model_admin, pattern))
    return found


def _pks(queryset):
    return spread(list(queryset.order_by("pk").values_list("pk", flat=True)), 2)


# A URL parameter other than the model's own id -> the demo's values for it, given that id.
PARAMETERS = {
    "appel_pk": lambda model, pk: _pks(Appel.objects.all()),
    # A dossier's thread (candidatures.messagerie.admin): dossiers with and without messages.
    "candidature_pk": lambda model, pk: _pks(Candidature.objects.all()),
    "cycle_pk": lambda model, pk: _pks(Cycle.objects.all()),
    "membre_pk": lambda model, pk: _pks(MembreBinome.objects.filter(participant__cycle=pk)),
    "document_pk": lambda model, pk: _pks(DocumentSeance.objects.filter(seance=pk)),
}
OWN_ID = ("pk", "id")
# Forms whose values are typed, never rendered back: a new password.
TYPED_NOT_RENDERED = {"admin:auth_user_password_change"}


def custom_urls(pattern, queryset) -> list[str]:
    """The view's URL for the first and last objects of ``queryset`` that have what its other
    parameters need (the role's own objects where it may see the model: a juror's dossiers)."""
    names = list(pattern.pattern.converters)
    unknown = [name for name in names if name not in OWN_ID and name not in PARAMETERS]
    assert unknown == [], f"{pattern.name} : paramètres sans valeur de démo {unknown}"
    own = [name for name in names if name in OWN_ID]
    own_pks = queryset.order_by("pk").values_list("pk", flat=True) if own else [None]
    candidates = []
    for pk in own_pks:
        combos = [{own[0]: pk}] if own else [{}]
        for name in names:
            if name not in OWN_ID:
                values = PARAMETERS[name](queryset.model, pk)
                combos = [{**combo, name: value} for combo in combos for value in values]
        if combos:
            candidates.append(combos)
    return [
        reverse(f"admin:{pattern.name}", kwargs=combo)
        for combos in spread(candidates, 2)
        for combo in combos
    ]


def edit_forms(content: bytes) -> list[str]:
    """Ids of the page's editing forms (``…_form``, as the admin names its change forms)."""
    return re.findall(r'<form[^>]*\bid="([\w-]+_form)"', content.decode(errors="replace"))


@pytest.mark.parametrize("role", ROLES)
def test_every_custom_admin_view_answers_without_server_error(client, role):
    request = signed_in(client, role)
    patterns = {}
    for model, model_admin, pattern in custom_patterns():
        may_view = model_admin.has_view_or_change_permission(request)
        queryset = model_admin.get_queryset(request) if may_view else None
        if queryset is None or not queryset.exists():
            queryset = model._default_manager.all()  # what the role may not see: 403/404
        patterns[f"admin:{pattern.name}"] = (pattern, queryset)
    problems: list[str] = []
    untried: set[str] = set(patterns)
    seen: set[str] = set()

    def get(url):
        seen.add(url)
        response = client.get(url)
        if response.status_code >= 500:
            problems.append(f"GET {url} → {response.status_code}")
        return response

    pages = []
    for name, (pattern, queryset) in patterns.items():
        for url in custom_urls(pattern, queryset):
            untried.discard(name)
            response = get(url)
            if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
                pages.append((url, response))
    # Links the lists and custom pages offer (a letter's version, a preview on one dossier, a
    # reply to a shared entry…): one level.
    for model, _ in MODEL_ADMINS:
        opts = model._meta
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if response.status_code == 200:
            pages.append((None, response))
    for _, response in pages:
        for link in sorted(admin_links(response.content) - seen):
            if resolve_admin(link) in patterns:
                untried.discard(resolve_admin(link))
                get(link)
    # A custom editing form (a juror's evaluation) saved back unchanged is accepted.
    for url, response in pages:
        for form_id in edit_forms(response.content) if url else []:
            form = parse_form(response.content, form_id)
            if not form.submits or resolve_admin(url) in TYPED_NOT_RENDERED:
                continue  # read-only (scoring closed), or nothing to send back unchanged
            posted = client.post(url, form.data(form.submits[0][0]))
            if posted.status_code != 302:
                problems.append(
                    f"POST {url} #{form_id} (inchangé) → {posted.status_code} "
                    f"{form_errors(posted.content)}"
                )

    assert problems == []
    assert untried == set(), "Vues sans objet de démo pour les essayer"


def resolve_admin(link: str) -> str | None:
    try:
        match = resolve(link.split("?")[0])
    except Resolver404:
        return None
    return f"{match.namespace}:{match.url_name}" if match.namespace else None


def test_decision_staged_from_the_admin_saves_back_unchanged(client):
    """The demo stages no decision on the recent call: stage one as staff do (the dossier's
    « Décider » link), then its page goes round trip like every other one."""
    signed_in(client, "charge")
    recent = Appel.objects.scoring_open().get()  # the demo call being scored
    dossier = recent.candidatures.deposees().order_by("numero").first()
    page = client.get(reverse("admin:candidatures_candidature_change", args=[dossier.pk]))
    decide = next(link for link in admin_links(page.content) if "decision/add/?" in link)
    assert decide.endswith(f"?candidature={dossier.pk}")
    add = parse_form(client.get(decide).content, "decision_form")
    added = client.post(decide, add.data("_save", issue="retenue"))
    assert (added.status_code, form_errors(added.content)) == (302, "")
    decision = Decision.objects.get(candidature=dossier)
    url = reverse("admin:candidatures_decision_change", args=[decision.pk])
    form = parse_form(client.get(url).content, "decision_form")

    response = client.post(url, form.data("_save"))

    assert (response.status_code, form_errors(response.content)) == (302, "")
    assert list(Decision.objects.filter(candidature=dossier).values_list("issue", flat=True)) == [
        "retenue"
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_action_on_a_demo_object_answers_without_server_error(client, role):
    """Each list's actions (export, decide, publish, extend a deadline…), run on one object as
    from the list's « Action » menu: its confirmation page or its result, never a 5xx."""
    request = signed_in(client, role)
    problems: list[str] = []
    for model, model_admin in MODEL_ADMINS:
        if not model_admin.has_view_or_change_permission(request):
            continue
        actions = [name for name in model_admin.get_actions(request) if name != "delete_selected"]
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is None:
            continue
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        for action in actions:
            response = client.post(url, {"action": action, "_selected_action": [first.pk]})
            if response.status_code >= 500:
                problems.append(f"action {action} sur {opts.label} {first.pk} → 500")

    assert problems == []
