import pytest

from candidatures.decisions import publication
from candidatures.models import Issue
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Participant
from cycle.seances.services import ensure_cycle
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import retain, submitted_candidature
from tests.factories import charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def staged():
    appel = AppelFactory(edition_2021=True, slug="2021")
    retenue = submitted_candidature(appel)
    refusee = submitted_candidature(appel)
    retain(retenue, published=False)
    retain(refusee, published=False, issue=Issue.NON_RETENUE)
    return appel, retenue, refusee


def test_publishing_decisions_enrols_the_retained_in_the_cycle(staged):
    appel, retenue, _refusee = staged
    cycle = ensure_cycle(appel)

    publication.publish_decisions(appel=appel, staff_user=charge_de_mission(), send=False)

    assert list(Participant.objects.filter(cycle=cycle).values_list("candidature", flat=True)) == [
        retenue.pk
    ]


def test_staff_action_enrols_the_retained_once(client, staged):
    appel, retenue, _refusee = staged
    sync_role_permissions()
    publication.publish_decisions(appel=appel, staff_user=charge_de_mission(), send=False)
    cycle = ensure_cycle(appel)
    client.force_login(charge_de_mission())
    data = {"action": "inscrire_retenues", "_selected_action": [cycle.pk]}

    first = client.post("/admin/cycle/cycle/", data, follow=True)
    second = client.post("/admin/cycle/cycle/", data, follow=True)

    assert "1 collectivité(s) inscrite(s) au cycle." in page_text(first)
    assert "Toutes les collectivités retenues sont déjà inscrites." in page_text(second)
    assert list(Participant.objects.filter(cycle=cycle).values_list("candidature", flat=True)) == [
        retenue.pk
    ]
