import pytest

from tests.factories import PASSWORD, charge_de_mission

pytestmark = pytest.mark.django_db


def login(client, email, password):
    return client.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}, follow=False
    )


def test_admin_login_with_email_and_password_opens_the_admin(client):
    charge = charge_de_mission()

    response = login(client, charge.email, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert int(client.session["_auth_user_id"]) == charge.pk


def test_admin_login_email_is_case_insensitive(client):
    charge = charge_de_mission(email="charge@cerdd.test")

    login(client, "Charge@Cerdd.TEST", PASSWORD)

    assert int(client.session["_auth_user_id"]) == charge.pk


def test_admin_login_locks_out_after_repeated_failures(client, settings):
    charge = charge_de_mission()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, charge.email, "mauvais-mot-de-passe")

    response = login(client, charge.email, PASSWORD)

    assert response.status_code == 429
    assert "Connexion temporairement bloquée" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_index_refuses_anonymous(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/?next=/admin/"
