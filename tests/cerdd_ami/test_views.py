import json
import re

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from cerdd_ami.mail import OutboxEmailBackend
from tests.utils import page_text

pytestmark = pytest.mark.django_db


def test_home_says_what_the_product_is(client):
    response = client.get("/")

    content = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fr">' in content
    assert (
        '<a class="visually-hidden-focusable skip-link" href="#contenu">Aller au contenu</a>'
        in content
    )
    assert "<h1>Appels à manifestation d'intérêt du Cerdd</h1>" in content
    assert "amontaigne@cerdd.org" in content
    assert "ebertin@cerdd.org" in content


def test_home_serves_bootstrap_from_the_project(client):
    content = client.get("/").content.decode()

    assert '<link rel="stylesheet" href="/static/bootstrap/css/bootstrap.min.css">' in content
    assert '<script src="/static/bootstrap/js/bootstrap.bundle.min.js"></script>' in content
    assert "cdn" not in content.lower()


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "unsafe-inline" not in policy


def test_admin_login_is_titled_for_the_programme(client):
    content = page_text(client.get("/admin/login/"))

    assert "Cerdd — Appels à manifestation d'intérêt" in content


def test_healthz_answers_ok_with_a_database_round_trip(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_down(client):
    def database_down(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(database_down):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "error", "database": "unreachable"}


def test_dev_outbox_does_not_exist_without_debug(client, load_urlconf):
    load_urlconf(debug=False)

    with pytest.raises(Resolver404):
        resolve("/dev/outbox/")
    with pytest.raises(NoReverseMatch):
        reverse("dev_outbox")
    assert client.get("/dev/outbox/").status_code == 404


def test_dev_outbox_exists_with_debug(load_urlconf):
    load_urlconf(debug=True)

    assert resolve("/dev/outbox/").url_name == "dev_outbox"
    assert reverse("dev_outbox_attachment", args=["abc", 0]) == "/dev/outbox/abc/piece/0/"


def _send_sign_in_link(settings):
    message = mail.EmailMessage(
        subject="Votre lien de connexion",
        body="Bonjour,\nCliquez ici : http://127.0.0.1:8000/connexion/abc123/\nÀ bientôt.",
        to=["mairie@arras.test"],
    )
    message.attach("recu.pdf", b"%PDF-1.4 demo", "application/pdf")
    OutboxEmailBackend().send_messages([message])


def test_dev_outbox_lists_messages_and_shows_clickable_links(client, settings, load_urlconf):
    load_urlconf(debug=True)
    _send_sign_in_link(settings)

    listing = client.get("/dev/outbox/").content.decode()
    message_id = re.search(r'href="/dev/outbox/([^/"]+)/"', listing).group(1)
    detail = client.get(f"/dev/outbox/{message_id}/").content.decode()
    attachment = client.get(f"/dev/outbox/{message_id}/piece/0/")

    assert "Votre lien de connexion" in listing
    assert "mairie@arras.test" in listing
    assert (
        '<a href="http://127.0.0.1:8000/connexion/abc123/" rel="nofollow">'
        "http://127.0.0.1:8000/connexion/abc123/</a>" in detail
    )
    assert attachment.content == b"%PDF-1.4 demo"
    assert attachment.headers["Content-Type"] == "application/pdf"


def test_dev_outbox_rejects_path_like_ids(client, settings, load_urlconf):
    load_urlconf(debug=True)
    _send_sign_in_link(settings)

    assert client.get(reverse("dev_outbox_detail", args=["..%2F..%2Fsettings"])).status_code == 404
    assert client.get("/dev/outbox/inexistant/").status_code == 404


def test_pages_stay_french_whatever_the_browser_language(client):
    response = client.get("/admin/login/", headers={"accept-language": "en-US,en;q=0.9"})

    content = response.content.decode()
    assert "Mot de passe" in content
    assert "Password" not in content
