import pytest
from axes.models import AccessAttempt

from tests.factories import PASSWORD, charge_de_mission
from tests.utils import page_text

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


def test_admin_login_locks_out_an_address_spraying_one_password_over_many_accounts(
    client, settings
):
    settings.AXES_IP_FAILURE_LIMIT = 8
    accounts = [charge_de_mission(email=f"compte{n}@cerdd.test") for n in range(9)]
    statuses = [
        login(client, account.email, "Printemps2026!").status_code for account in accounts[:8]
    ]
    assert statuses == [200] * 7 + [429]  # the eighth failure from the address locks it

    response = login(client, accounts[8].email, PASSWORD)

    assert response.status_code == 429
    content = page_text(response)
    assert "Connexion temporairement bloquée" in content
    assert "Trop de tentatives de connexion ont échoué depuis votre adresse." in content
    assert "_auth_user_id" not in client.session


def test_admin_login_failures_on_other_accounts_do_not_lock_one_under_the_address_limit(
    client, settings
):
    settings.AXES_IP_FAILURE_LIMIT = 8
    for n in range(7):
        login(client, charge_de_mission(email=f"compte{n}@cerdd.test").email, "mauvais")
    charge = charge_de_mission(email="charge@cerdd.test")

    response = login(client, charge.email, PASSWORD)

    assert response.headers["Location"] == "/admin/"
    assert int(client.session["_auth_user_id"]) == charge.pk


def test_admin_login_lockout_of_an_address_spares_the_others(client, settings):
    settings.AXES_IP_FAILURE_LIMIT = 3
    for n in range(3):
        login(client, charge_de_mission(email=f"compte{n}@cerdd.test").email, "mauvais")
    charge = charge_de_mission(email="charge@cerdd.test")

    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": charge.email, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.7",
    )

    assert response.headers["Location"] == "/admin/"


def test_admin_login_with_an_overlong_address_is_refused_in_french_and_counted(client):
    """The admin's login form lets an address of any length reach authentication, and
    django-axes stored it in a 255-character column: a 500 (found by the hostile-input guard)."""
    address = "a" * 300 + "@cerdd.test"

    response = login(client, address, "mauvais")

    assert response.status_code == 200
    assert "Veuillez compléter correctement les champs « adresse e-mail » et « mot de passe »" in (
        page_text(response)
    )
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [
        (address[:255], 1)
    ]
