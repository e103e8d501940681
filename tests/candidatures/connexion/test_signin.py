import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.messages import get_messages
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, transaction
from django.test import Client, TestCase

from candidatures.connexion.signin import build_login_url
from candidatures.models import DemandeLienConnexion
from cerdd_ami.models import User
from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

REQUEST_URL = "/connexion/"
SENT_URL = "/connexion/lien-envoye/"
LINK_RE = re.compile(r"https?://\S+/connexion/lien/\?\S+")
INVALID_TITLE = "Ce lien n'est plus valable"
THROTTLED = "Trop de demandes de lien de connexion"
T0 = datetime(2021, 1, 15, 9, 0, tzinfo=UTC)


def ask_link(client, email, next_url="", **extra):
    """POST the sign-in form; its transaction commits, so the link e-mail leaves (on commit)."""
    data = {"email": email}
    if next_url:
        data["next"] = next_url
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(REQUEST_URL, data, **extra)


def link_in(message) -> str:
    (link,) = set(LINK_RE.findall(message.body))
    return link


def local(url: str) -> str:
    """The path and query of an absolute link, as the test client wants them."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def requests_made():
    return list(DemandeLienConnexion.objects.order_by("pk").values_list("email", "ip"))


# --- Asking for a link -----------------------------------------------------------------------


def test_request_link_form_is_in_french_with_email_autocomplete(client):
    response = client.get(REQUEST_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.count("<h1") == 1
    assert "<h1>Connexion à l'espace de candidature</h1>" in content
    assert 'autocomplete="email"' in content
    assert 'value="Recevoir un lien de connexion"' in content
    assert 'for="id_email"' in content


def test_request_link_sends_exactly_one_email_holding_a_link(client, mailoutbox):
    response = ask_link(client, "  Marie.Dupont@Mairie-Exemple.FR ")

    assert response.status_code == 302
    assert response.headers["Location"] == SENT_URL
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["marie.dupont@mairie-exemple.fr"]
    assert message.subject == ("Votre lien de connexion — Appels à manifestation d'intérêt (Cerdd)")
    link = link_in(message)
    assert link.startswith("http://127.0.0.1:8000/connexion/lien/?jeton=")
    assert "valable 30 minutes et ne sert qu'une fois" in message.body
    assert "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message." in message.body
    assert "http://127.0.0.1:8000" in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{link.replace("&", "&amp;")}"' in html
    assert "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message." in html
    assert requests_made() == [("marie.dupont@mairie-exemple.fr", "127.0.0.1")]


def test_request_link_mails_the_link_only_once_the_request_is_committed(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(REQUEST_URL, {"email": "marie.dupont@mairie-exemple.fr"})
        assert mailoutbox == []  # nothing leaves inside the transaction

    assert (response.status_code, len(callbacks), mailoutbox) == (302, 1, [])
    callbacks[0]()  # the commit
    assert [message.to for message in mailoutbox] == [["marie.dupont@mairie-exemple.fr"]]


class LockProbeBackend(EmailBackend):
    """The test outbox, noting for each message whether another connection could take the
    sign-in locks of its address and IP at the moment it was sent."""

    probes: list = []

    def send_messages(self, messages):
        def probe(address):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_try_advisory_xact_lock(7301, hashtext(%s)), "
                        "pg_try_advisory_xact_lock(7302, hashtext(%s))",
                        [address, "127.0.0.1"],
                    )
                    self.probes.append((address, cursor.fetchone()))
            finally:
                connection.close()

        for message in messages:
            thread = threading.Thread(target=probe, args=(message.to[0],))
            thread.start()
            thread.join(30)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_request_link_mails_the_link_outside_the_address_and_ip_locks(
    client, mailoutbox, settings, monkeypatch
):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.LockProbeBackend"}}
    monkeypatch.setattr(LockProbeBackend, "probes", [])

    response = client.post(REQUEST_URL, {"email": "marie.dupont@mairie-exemple.fr"})

    assert response.status_code == 302
    assert LockProbeBackend.probes == [("marie.dupont@mairie-exemple.fr", (True, True))]
    assert [message.to for message in mailoutbox] == [["marie.dupont@mairie-exemple.fr"]]


def test_request_link_creates_an_applicant_without_password(client, mailoutbox):
    ask_link(client, "nouvelle@mairie-exemple.fr")

    user = User.objects.get()
    assert user.email == "nouvelle@mairie-exemple.fr"
    assert user.is_staff is False
    assert user.is_superuser is False
    assert user.has_usable_password() is False


def test_request_link_reuses_the_existing_account(client, mailoutbox):
    user = UserFactory(email="connue@mairie-exemple.fr")

    ask_link(client, "CONNUE@mairie-exemple.fr")

    assert list(User.objects.values_list("pk", flat=True)) == [user.pk]
    assert [m.to for m in mailoutbox] == [["connue@mairie-exemple.fr"]]


def test_request_link_keeps_a_local_next_in_the_form(client):
    response = client.get(REQUEST_URL, {"next": "/candidature/nouvelle/2021/"})

    assert 'name="next" value="/candidature/nouvelle/2021/"' in response.content.decode()


@pytest.mark.parametrize("next_url", ["https://ailleurs.example/", "//ailleurs.example/x"])
def test_request_link_drops_a_foreign_next_from_the_form(client, next_url):
    response = client.get(REQUEST_URL, {"next": next_url})

    content = response.content.decode()
    assert "ailleurs.example" not in content
    assert 'name="next"' in content


def test_request_link_invalid_email_gets_a_french_error_next_to_the_field(client, mailoutbox):
    response = ask_link(client, "marie.dupont@")

    content = response.content.decode()
    assert response.status_code == 200
    assert "Cette adresse e-mail n&#x27;est pas valide." in content
    assert 'id="error_1_id_email"' in content
    assert 'aria-invalid="true"' in content
    assert "<title>Erreur — " in content
    assert requests_made() == []
    assert mailoutbox == []


def test_request_link_empty_email_gets_a_french_error(client, mailoutbox):
    response = ask_link(client, "")

    assert "Indiquez votre adresse e-mail." in response.content.decode()
    assert requests_made() == []
    assert mailoutbox == []


def test_request_link_for_staff_sends_no_email(client, mailoutbox):
    StaffFactory(email="charge@cerdd.test")

    response = ask_link(client, "charge@cerdd.test")

    assert response.status_code == 302
    assert response.headers["Location"] == SENT_URL
    assert mailoutbox == []
    assert requests_made() == [("charge@cerdd.test", "127.0.0.1")]


def test_request_link_for_inactive_account_sends_no_email(client, mailoutbox):
    UserFactory(email="partie@mairie-exemple.fr", is_active=False)

    ask_link(client, "partie@mairie-exemple.fr")

    assert mailoutbox == []


def test_link_sent_page_is_identical_for_unknown_known_and_staff_addresses(mailoutbox):
    UserFactory(email="connue@mairie-exemple.fr")
    StaffFactory(email="equipe@cerdd.test")
    answers = []
    for email in ["inconnue@mairie-exemple.fr", "connue@mairie-exemple.fr", "equipe@cerdd.test"]:
        client = Client()
        posted = ask_link(client, email)
        page = client.get(SENT_URL)
        answers.append(
            (
                posted.status_code,
                posted.headers["Location"],
                posted.content,
                page.status_code,
                page.content.replace(email.encode(), b"ADRESSE"),
            )
        )

    assert answers[0] == answers[1] == answers[2]
    page = answers[0][4].decode()
    assert "Si l'adresse <strong>ADRESSE</strong> peut recevoir un lien" in page
    assert "Il est valable 30 minutes et ne sert qu'une fois." in page
    assert [m.to for m in mailoutbox] == [
        ["inconnue@mairie-exemple.fr"],
        ["connue@mairie-exemple.fr"],
    ]


def test_link_sent_page_without_a_request_goes_back_to_the_form(client):
    response = client.get(SENT_URL)

    assert response.status_code == 302
    assert response.headers["Location"] == REQUEST_URL


def test_request_link_throttled_per_address(client, mailoutbox, settings):
    assert settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR == 5
    with time_machine.travel(T0, tick=False):
        for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]:
            assert ask_link(client, "marie@mairie-exemple.fr", REMOTE_ADDR=ip).status_code == 302

        response = ask_link(client, "Marie@mairie-exemple.fr", REMOTE_ADDR="10.0.0.6")

    assert response.status_code == 429
    content = response.content.decode()
    assert THROTTLED in content
    assert "réessayez dans une heure" in content
    assert len(mailoutbox) == 5
    assert DemandeLienConnexion.objects.count() == 5


def test_request_link_throttle_per_address_lifts_after_an_hour(client, mailoutbox, settings):
    settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = 1
    with time_machine.travel(T0, tick=False):
        ask_link(client, "marie@mairie-exemple.fr")
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        refused = ask_link(client, "marie@mairie-exemple.fr")
    with time_machine.travel(T0 + timedelta(minutes=60, seconds=1), tick=False):
        accepted = ask_link(client, "marie@mairie-exemple.fr")

    assert refused.status_code == 429
    assert accepted.status_code == 302
    assert len(mailoutbox) == 2


def test_request_link_throttled_per_ip(client, mailoutbox, settings):
    settings.SIGN_IN_LINKS_PER_IP_PER_HOUR = 2
    first = ask_link(client, "a@mairie-exemple.fr", REMOTE_ADDR="192.0.2.7")
    second = ask_link(client, "b@mairie-exemple.fr", REMOTE_ADDR="192.0.2.7")
    third = ask_link(client, "c@mairie-exemple.fr", REMOTE_ADDR="192.0.2.7")
    elsewhere = ask_link(client, "c@mairie-exemple.fr", REMOTE_ADDR="192.0.2.8")

    assert [first.status_code, second.status_code, third.status_code] == [302, 302, 429]
    assert THROTTLED in third.content.decode()
    assert elsewhere.status_code == 302
    assert [m.to for m in mailoutbox] == [
        ["a@mairie-exemple.fr"],
        ["b@mairie-exemple.fr"],
        ["c@mairie-exemple.fr"],
    ]
    assert requests_made() == [
        ("a@mairie-exemple.fr", "192.0.2.7"),
        ("b@mairie-exemple.fr", "192.0.2.7"),
        ("c@mairie-exemple.fr", "192.0.2.8"),
    ]


def test_request_link_counts_the_client_behind_the_proxy(client, mailoutbox, settings):
    settings.PROXY_COUNT = 1
    settings.SIGN_IN_LINKS_PER_IP_PER_HOUR = 1
    ask_link(client, "a@mairie-exemple.fr", HTTP_X_FORWARDED_FOR="198.51.100.1")
    other_client = ask_link(client, "b@mairie-exemple.fr", HTTP_X_FORWARDED_FOR="198.51.100.2")
    same_client = ask_link(client, "c@mairie-exemple.fr", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert other_client.status_code == 302
    assert same_client.status_code == 429
    assert requests_made() == [
        ("a@mairie-exemple.fr", "198.51.100.1"),
        ("b@mairie-exemple.fr", "198.51.100.2"),
    ]


def test_request_link_ignores_a_malformed_forwarded_address(client, mailoutbox, settings):
    settings.PROXY_COUNT = 1

    response = ask_link(client, "a@mairie-exemple.fr", HTTP_X_FORWARDED_FOR="pas-une-ip")

    assert response.status_code == 302
    assert requests_made() == [("a@mairie-exemple.fr", None)]
    assert len(mailoutbox) == 1


def test_request_link_when_signed_in_shows_who_and_how_to_log_out(client):
    user = UserFactory(email="marie@mairie-exemple.fr")
    client.force_login(user)

    response = client.get(REQUEST_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Vous êtes connecté·e avec l'adresse <strong>marie@mairie-exemple.fr</strong>" in (
        content
    )
    assert 'href="/candidature/">Mes candidatures</a>' in content
    assert 'action="/deconnexion/"' in content


# --- Following the link ----------------------------------------------------------------------


def test_sign_in_link_logs_in_and_redirects_to_next(client, mailoutbox):
    ask_link(client, "marie@mairie-exemple.fr", next_url="/candidature/nouvelle/2021/")
    link = link_in(mailoutbox[0])

    response = client.get(local(link))

    user = User.objects.get(email="marie@mairie-exemple.fr")
    assert link.endswith("&next=/candidature/nouvelle/2021/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/candidature/nouvelle/2021/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["_auth_user_backend"] == "sesame.backends.ModelBackend"


def test_sign_in_link_without_next_goes_to_my_applications(client):
    user = UserFactory()

    response = client.get(local(build_login_url(user)))

    assert response.status_code == 302
    assert response.headers["Location"] == "/candidature/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_sign_in_link_used_twice_is_refused(client, mailoutbox):
    ask_link(client, "marie@mairie-exemple.fr")
    link = local(link_in(mailoutbox[0]))
    assert client.get(link).status_code == 302

    other = Client()
    response = other.get(link)

    assert response.status_code == 403
    assert INVALID_TITLE in response.content.decode()
    assert 'href="/connexion/"' in response.content.decode()
    assert "_auth_user_id" not in other.session


def test_sign_in_link_is_revoked_by_any_later_sign_in(client):
    user = UserFactory()
    older = local(build_login_url(user))
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=5), tick=False):
        newer = local(build_login_url(user))
        assert client.get(newer).status_code == 302

        response = Client().get(older)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("seconds_later", "status"), [(-1, 302), (0, 403), (3600, 403)], ids=["last", "at", "after"]
)
def test_sign_in_link_expires_after_max_age(client, settings, seconds_later, status):
    user = UserFactory()
    with time_machine.travel(T0, tick=False):
        link = local(build_login_url(user))
    later = T0 + timedelta(seconds=settings.SESAME_MAX_AGE + seconds_later)

    with time_machine.travel(later, tick=False):
        response = client.get(link)
        # Read while still travelling: the session would look expired back in the present.
        signed_in_as = client.session.get("_auth_user_id")

    assert response.status_code == status
    if status == 403:
        assert INVALID_TITLE in response.content.decode()
        assert signed_in_as is None
    else:
        assert signed_in_as == str(user.pk)


def test_sign_in_link_tampered_is_refused(client):
    user = UserFactory()
    link = local(build_login_url(user))

    response = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_sign_in_link_without_token_is_refused(client):
    response = client.get("/connexion/lien/")

    assert response.status_code == 403
    assert INVALID_TITLE in response.content.decode()


def test_sign_in_link_for_staff_is_refused(client):
    staff = StaffFactory()

    response = client.get(local(build_login_url(staff)))

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "next_url",
    ["https://ailleurs.example/candidature/", "//ailleurs.example/", "/\\ailleurs.example/"],
)
def test_sign_in_link_ignores_next_on_another_host(client, next_url):
    user = UserFactory()
    link = local(build_login_url(user)) + "&next=" + next_url

    response = client.get(link)

    assert response.status_code == 302
    assert response.headers["Location"] == "/candidature/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_build_login_url_keeps_only_a_local_next():
    user = UserFactory()

    local_next = build_login_url(user, next_url="/candidature/3/")
    foreign_next = build_login_url(user, next_url="https://ailleurs.example/")

    assert local_next.startswith("http://127.0.0.1:8000/connexion/lien/?jeton=")
    assert local_next.endswith("&next=/candidature/3/")
    assert "next" not in foreign_next
    assert local_next.removesuffix("&next=/candidature/3/") == foreign_next


def dead_links_then_a_valid_one(client, settings):
    user = UserFactory()
    dead = [
        client.get("/connexion/lien/?jeton=perime").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    response = client.get(local(build_login_url(user)))
    return dead, response, client.session.get("_auth_user_id"), user


def test_axes_whitelist_keeps_dead_links_from_blocking_a_valid_one(client, settings):
    settings.AXES_WHITELIST_CALLABLE = "candidatures.connexion.signin.axes_ignores_sign_in_links"

    dead, response, signed_in_as, user = dead_links_then_a_valid_one(client, settings)

    assert dead == [403] * (settings.AXES_FAILURE_LIMIT + 1)
    assert response.status_code == 302
    assert signed_in_as == str(user.pk)
    assert AccessAttempt.objects.count() == 0


def test_axes_whitelist_still_locks_password_logins(client, settings):
    settings.AXES_WHITELIST_CALLABLE = "candidatures.connexion.signin.axes_ignores_sign_in_links"
    staff = StaffFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": staff.email, "password": "mauvais"})

    response = client.post("/admin/login/", {"username": staff.email, "password": PASSWORD})

    assert response.status_code == 429


def test_many_dead_links_do_not_block_a_valid_one(client, settings):
    dead, response, signed_in_as, user = dead_links_then_a_valid_one(client, settings)

    assert dead == [403] * (settings.AXES_FAILURE_LIMIT + 1)
    assert response.status_code == 302
    assert signed_in_as == str(user.pk)


# --- Logging out -----------------------------------------------------------------------------


def test_logout_by_get_is_refused(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get("/deconnexion/")

    assert response.status_code == 405
    assert client.session["_auth_user_id"] == str(user.pk)


def test_logout_by_post_logs_out(client):
    client.force_login(UserFactory())

    response = client.post("/deconnexion/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "_auth_user_id" not in client.session
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Vous êtes déconnecté·e."]
