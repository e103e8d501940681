import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from cerdd_ami.models import User

pytestmark = pytest.mark.django_db

DEMO_EMAILS = ["charge@cerdd.test", "directeur@cerdd.test"] + [
    f"jury{n}@cerdd.test" for n in range(1, 8)
]


def test_seed_demo_creates_the_demo_logins(capsys):
    call_command("seed_demo")

    output = capsys.readouterr().out
    assert sorted(User.objects.values_list("email", flat=True)) == sorted(DEMO_EMAILS)
    for email in DEMO_EMAILS:
        assert email in output
    assert "demo-cerdd" in output


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    first = list(User.objects.order_by("email").values_list("email", "password"))

    call_command("seed_demo")

    assert list(User.objects.order_by("email").values_list("email", "password")) == first


def test_seed_demo_charge_is_staff_but_not_superuser_with_role_permissions():
    call_command("seed_demo")

    charge = User.objects.get(email="charge@cerdd.test")
    assert (charge.is_staff, charge.is_superuser) == (True, False)
    assert list(charge.groups.values_list("name", flat=True)) == ["Chargé·e de mission"]
    assert charge.has_perm("cerdd_ami.change_user")


def test_seed_demo_password_logs_in():
    call_command("seed_demo")
    request = RequestFactory().post("/admin/login/")

    user = authenticate(request, username="jury3@cerdd.test", password="demo-cerdd")

    assert user == User.objects.get(email="jury3@cerdd.test")
