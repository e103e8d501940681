"""Guard: every page each role can reach by following links over the seeded demo answers
without a server error (a crawl per role, GET only, bounded; see tests/crawl.py)."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponse

from candidatures.models import Appel, Courrier, Decision, PieceJointe
from cerdd_ami.models import User
from tests.crawl import MAX_PAGES, assert_demo_roles, crawl, demo_people, same_site_links
from tests.demo_snapshot import restore
from tests.utils import pdf_text


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _private_media(settings, demo_media, tmp_path):
    """The demo's files (pieces, letters, documents) stay readable by every test of the module."""
    settings.MEDIA_ROOT = demo_media
    settings.DEV_OUTBOX_DIR = tmp_path / "mail"


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker, demo_media, demo_snapshot):
    """The demo (seeded once per test process, tests/demo_snapshot.py) restored for the
    module, rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        restore(demo_snapshot, media_root=demo_media)
        yield
        transaction.set_rollback(True)
    ContentType.objects.clear_cache()


def test_same_site_links_keeps_own_pages_only():
    html = (
        '<a href="/appel/2021/#calendrier">a</a><a href="etape/2/?x=1">b</a>'
        '<a href="https://www.cerdd.org/">c</a><a href="mailto:a@b.fr">d</a>'
        '<a href="http://testserver/admin/">e</a><a>f</a>'
    )
    assert same_site_links("/candidature/3/", html) == [
        "/appel/2021/",
        "/candidature/3/etape/2/?x=1",
        "/admin/",
    ]


class _Site:
    """A three-page site for the crawler's own test."""

    PAGES = {
        "/": (200, "text/html", '<a href="/a/">a</a><a href="/deconnexion/">x</a>'),
        "/a/": (200, "text/html", '<a href="/b.pdf">b</a><a href="/c/">c</a><a href="/d/">d</a>'),
        "/b.pdf": (200, "application/pdf", '<a href="/jamais/">?</a>'),
        "/c/": (500, "text/html", ""),
    }

    def get(self, url):
        status, content_type, body = self.PAGES.get(url, (404, "text/html", ""))
        return HttpResponse(body, status=status, content_type=content_type)


def test_crawl_follows_links_and_reports_server_errors_and_dead_links():
    result = crawl(_Site(), ["/"])
    assert result.pages == {"/": 200, "/a/": 200, "/b.pdf": 200, "/c/": 500, "/d/": 404}
    assert result.downloads == ["/b.pdf"]
    assert result.errors() == {"/c/": 500, "/d/": 404}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", ["anonyme", "candidat·e", "jury", "chargé·e de mission", "participant·e"]
)
def test_crawl_of_the_demo_finds_no_server_error(demo, client, role):
    people = demo_people()
    assert_demo_roles(people)
    user, starts = people[role]
    if user is not None:
        client.force_login(user)

    result = crawl(client, starts)

    assert result.errors() == {}
    assert len(result.pages) <= MAX_PAGES
    # The crawl went somewhere: the role's own pages were reached, not just the landing page.
    expected = {
        "anonyme": "/connexion/",
        "candidat·e": "/candidature/",
        "jury": "/admin/candidatures/dossierjury/",
        "chargé·e de mission": "/admin/candidatures/appel/",
        "participant·e": "/cycle/",
    }[role]
    reached = {urlsplit(url).path for url, status in result.pages.items() if status == 200}
    assert expected in reached


# The module's seeded demo also serves the check that its events are dated where they belong.
@pytest.mark.django_db
def test_demo_dates_2021_publication_letters_and_pieces_where_they_belong(demo):
    appel = Appel.objects.get(slug="2021")
    published = set(
        Decision.objects.filter(candidature__appel=appel).values_list("published_at", flat=True)
    )
    assert published == {appel.announcement_at}
    assert appel.decisions_published_at == appel.announcement_at
    courrier = Courrier.objects.filter(decision__candidature__appel=appel).first()
    with courrier.pdf.open("rb") as pdf:
        text = pdf_text(pdf)
    assert "le 15 avril 2021" in text
    late_pieces = [
        (piece.candidature.numero, piece.uploaded_at, first_deposit)
        for piece in PieceJointe.objects.select_related("candidature")
        if (first_deposit := piece.candidature.depots.order_by("submitted_at").first())
        and piece.uploaded_at > first_deposit.submitted_at
    ]
    assert late_pieces == []
    assert PieceJointe.objects.filter(candidature__appel=appel).count() >= 24


@pytest.mark.django_db
def test_demo_open_call_page_shows_no_stale_edition(demo, client):
    appel = Appel.objects.order_by("-opens_at").first()
    content = re.sub(r"\s+", " ", client.get(f"/appel/{appel.slug}/").content.decode())

    first = appel.first_session_date
    assert first.year > 2021
    assert "2021" not in content
    assert f"Séances : 7 journées {appel.periode_cycle()}, environ toutes les 6 semaines" in (
        content
    )
    # Staff are not offered a free-text calendar that the public page would no longer show.
    client.force_login(User.objects.get(email="charge@cerdd.test"))
    form = client.get(f"/admin/candidatures/appel/{appel.pk}/change/").content.decode()
    assert 'name="first_session_date"' in form
    assert 'name="calendrier"' not in form
