import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from candidatures.models import Appel, Candidature
from cerdd_ami.models import User

pytestmark = pytest.mark.django_db

DEMO_EMAILS = ["charge@cerdd.test", "directeur@cerdd.test"] + [
    f"jury{n}@cerdd.test" for n in range(1, 8)
]


# seed_demo renders some fifty PDFs: one run serves all the assertions about its result.
def test_seed_demo_creates_logins_calls_and_dossiers(capsys):
    call_command("seed_demo")

    output = capsys.readouterr().out
    staff = User.objects.filter(is_staff=True).values_list("email", flat=True)
    assert sorted(staff) == sorted(DEMO_EMAILS)
    for email in DEMO_EMAILS:
        assert email in output
    assert "demo-cerdd" in output
    charge = User.objects.get(email="charge@cerdd.test")
    assert (charge.is_staff, charge.is_superuser) == (True, False)
    assert list(charge.groups.values_list("name", flat=True)) == ["Chargé·e de mission"]
    assert charge.has_perm("cerdd_ami.change_user")
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="jury3@cerdd.test", password="demo-cerdd") == (
        User.objects.get(email="jury3@cerdd.test")
    )
    appel_2021 = Appel.objects.get(slug="2021")
    assert appel_2021.candidatures.count() == 30
    assert appel_2021.candidatures.deposees().count() == 24
    departements = appel_2021.candidatures.values_list("collectivite__departement", flat=True)
    assert sorted(set(departements)) == ["02", "59", "60", "62", "80"]
    natures = appel_2021.candidatures.values_list("collectivite__nature", flat=True)
    assert sorted(set(natures)) == ["commune", "epci"]
    assert Appel.objects.current().is_open()
    assert Appel.objects.current().candidatures.count() == 0


def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    users = list(User.objects.order_by("email").values_list("email", "password"))
    dossiers = list(Candidature.objects.order_by("pk").values_list("numero", "statut"))

    call_command("seed_demo")

    assert list(User.objects.order_by("email").values_list("email", "password")) == users
    assert list(Candidature.objects.order_by("pk").values_list("numero", "statut")) == dossiers
