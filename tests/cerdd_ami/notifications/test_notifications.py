"""Notifications: rows in the caller's transaction, one e-mail each at most (or a daily
digest, or none), one-click unsubscribe, unread counts in the menu."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from cerdd_ami.models import Notification, Preference, Tache
from cerdd_ami.notifications import services
from cerdd_ami.notifications.services import notify, send_digests, send_notification
from cerdd_ami.tasks.services import relaunch
from tests.conftest import run_worker
from tests.factories import UserFactory
from tests.utils import FLAKY_MAILERS, FlakyBackend

pytestmark = pytest.mark.django_db


def _notify(users, titre="Nouveau message sur votre dossier", url="/candidature/1/messages/"):
    return notify(recipients=users, titre=titre, url=url)


def test_notify_immediate_sends_one_email_with_unsubscribe_headers_after_commit(
    django_capture_on_commit_callbacks,
):
    user = UserFactory(email="ref@arras.test")
    with django_capture_on_commit_callbacks(execute=True):
        (notification,) = _notify([user, user], url="/candidature/1/messages/#message-4")
        assert mail.outbox == []  # nothing before the commit

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ref@arras.test"]
    assert message.subject == "Nouveau message sur votre dossier"
    assert "http://127.0.0.1:8000/candidature/1/messages/#message-4" in message.body
    link = re.search(r"<(.+)>", message.extra_headers["List-Unsubscribe"]).group(1)
    assert link.startswith("http://127.0.0.1:8000/notifications/desabonnement/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert notification.read_at is None


def test_send_notification_twice_sends_one_email(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        (notification,) = _notify([user])

    assert send_notification.call(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1


def test_notify_rolled_back_creates_nothing_and_sends_nothing(django_capture_on_commit_callbacks):
    user = UserFactory()

    def change_that_fails():
        with transaction.atomic():
            _notify([user])
            raise ZeroDivisionError

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError):
        change_that_fails()

    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_notify_with_the_database_queue_is_sent_by_the_worker_once(database_queue):
    user = UserFactory()
    with transaction.atomic():
        _notify([user])

    run_worker()
    run_worker()

    assert len(mail.outbox) == 1
    assert Notification.objects.get().emailed_at is not None


def test_mail_server_failure_leaves_the_notification_unsent_for_the_retry(
    database_queue, settings, monkeypatch
):
    user = UserFactory()
    settings.TASKS_RETRY_DELAYS = [3600]
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({user.email}))
    with transaction.atomic():
        _notify([user])

    run_worker()

    assert Notification.objects.get().emailed_at is None
    assert mail.outbox == []
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    relaunch(task_ids=list(Tache.objects.values_list("pk", flat=True)))  # « Relancer »
    run_worker()
    assert len(mail.outbox) == 1
    assert Notification.objects.get().emailed_at is not None


@pytest.mark.parametrize("mode", [Preference.Mode.RESUME, Preference.Mode.AUCUN])
def test_notify_sends_nothing_at_once_to_digest_or_none(mode, django_capture_on_commit_callbacks):
    user = UserFactory()
    services.set_preference(user=user, mode=mode)
    with django_capture_on_commit_callbacks(execute=True):
        _notify([user])

    assert mail.outbox == []
    assert Notification.objects.filter(user=user, emailed_at=None).count() == 1


def test_daily_digest_lists_unsent_notifications_once_and_skips_other_modes():
    digest, nothing, immediate = UserFactory(), UserFactory(), UserFactory()
    services.set_preference(user=digest, mode=Preference.Mode.RESUME)
    services.set_preference(user=nothing, mode=Preference.Mode.AUCUN)
    _notify([digest, nothing], titre="Réponse à votre question", url="/cycle/1/questions/")
    _notify([digest], titre="Nouveau message sur votre dossier", url="/candidature/1/messages/")
    read = _notify([digest], titre="Déjà lu", url="/ailleurs/")[0]
    services.mark_read(user=digest, url=read.url)
    Preference.objects.filter(user=immediate).delete()

    assert send_digests.call() == {"resumes": 1, "notifications": 2, "echecs": 0}
    assert send_digests.call() == {"resumes": 0, "notifications": 0, "echecs": 0}

    assert [m.to for m in mail.outbox] == [[digest.email]]
    body = mail.outbox[0].body
    assert "Réponse à votre question" in body
    assert "http://127.0.0.1:8000/candidature/1/messages/" in body
    assert "Déjà lu" not in body
    assert mail.outbox[0].subject == "2 nouveautés sur votre espace du Cerdd"
    assert mail.outbox[0].extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert Notification.objects.filter(user=nothing, emailed_at__isnull=False).count() == 0


def test_digest_leaves_out_notifications_older_than_its_window():
    user = UserFactory()
    services.set_preference(user=user, mode=Preference.Mode.RESUME)
    (old,) = _notify([user])
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))

    assert services.send_digest(user=user) == 0
    assert mail.outbox == []


def test_digest_task_is_periodic(settings):
    assert settings.PERIODIC_TASKS["cerdd_ami.notifications.services.send_digests"] == 86400


def test_mark_read_matches_the_page_path_without_fragment():
    user, other = UserFactory(), UserFactory()
    _notify([user, other], url="/candidature/1/messages/#message-4")
    _notify([user], url="/candidature/2/messages/")

    assert services.mark_read(user=user, url="/candidature/1/messages/") == 1

    assert sorted(
        Notification.objects.filter(read_at__isnull=True).values_list("user__email", "url")
    ) == sorted(
        [
            (other.email, "/candidature/1/messages/#message-4"),
            (user.email, "/candidature/2/messages/"),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Views


def test_mes_notifications_sets_the_preference(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get("/notifications/")
    assert response.status_code == 200
    assert re.findall(r'value="(\w+)"[^>]* checked', response.content.decode()) == ["immediat"]

    response = client.post("/notifications/", {"mode": "resume"})

    assert response.headers["Location"] == "/notifications/"
    assert Preference.objects.get(user=user).mode == "resume"


def test_mes_notifications_refuses_an_unknown_mode(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post("/notifications/", {"mode": "tout"})

    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in response.content.decode()
    assert Preference.objects.filter(user=user).count() == 0


def test_mes_notifications_anonymous_goes_to_sign_in(client):
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion/?next=/notifications/"


def test_mes_notifications_lists_only_ones_own_and_menu_counts_unread(client):
    user, other = UserFactory(), UserFactory()
    _notify([user], titre="Pour moi <b>gras</b>")
    _notify([other], titre="Pour quelqu'un d'autre")
    client.force_login(user)

    content = client.get("/notifications/").content.decode()

    assert "Pour moi &lt;b&gt;gras&lt;/b&gt;" in content
    assert "Pour quelqu&#x27;un d&#x27;autre" not in content
    assert "Pour quelqu'un d'autre" not in content
    assert 'Notifications <span class="badge text-bg-primary">1<span' in content


def test_tout_marquer_lu(client):
    user, other = UserFactory(), UserFactory()
    _notify([user, other])
    _notify([user], url="/autre/")
    client.force_login(user)

    response = client.post("/notifications/tout-marquer-lu/")

    assert response.status_code == 302
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
    assert Notification.objects.get(read_at__isnull=True).user == other


def test_unsubscribe_get_confirms_and_one_click_post_without_csrf_sets_none():
    from django.test import Client

    user = UserFactory(email="ref@arras.test")
    token = services.unsubscribe_token(user)
    client = Client(enforce_csrf_checks=True)

    page = client.get(f"/notifications/desabonnement/{token}/")
    assert page.status_code == 200
    assert "ref@arras.test" in page.content.decode()
    assert Preference.objects.filter(user=user).count() == 0

    response = client.post(
        f"/notifications/desabonnement/{token}/", {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code == 200
    assert Preference.objects.get(user=user).mode == "aucun"


def test_unsubscribe_with_a_forged_or_outdated_token_is_a_404(client):
    user = UserFactory(email="ref@arras.test")
    token = services.unsubscribe_token(user)
    user.email = "autre@arras.test"
    user.save()

    assert client.post(f"/notifications/desabonnement/{token}/").status_code == 404
    assert client.post("/notifications/desabonnement/abc:def/").status_code == 404
    assert Preference.objects.count() == 0
