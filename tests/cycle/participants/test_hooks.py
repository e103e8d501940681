"""The cycle side of the decisions hook: what publication and a staff-recorded withdrawal do
to the cycle, called the way ``candidatures.decisions.hooks`` calls them."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from candidatures.models import Issue
from cycle.models import Participant
from cycle.participants.services import enrol_on_publication, retire_on_withdrawal
from cycle.seances.services import ensure_cycle
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import ParticipantFactory, retain, submitted_candidature
from tests.factories import charge_de_mission

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def published():
    """A call with one published « retenue » and one published « non retenue »."""
    appel = AppelFactory(edition_2021=True, slug="2021")
    retenue = submitted_candidature(appel)
    refusee = submitted_candidature(appel)
    retain(retenue)
    retain(refusee, issue=Issue.NON_RETENUE)
    return appel, retenue


def test_enrol_on_publication_enrols_the_retained_once(published):
    appel, retenue = published
    cycle = ensure_cycle(appel)

    first = enrol_on_publication(appel=appel, staff_user=charge_de_mission())
    second = enrol_on_publication(appel=appel, staff_user=charge_de_mission())

    assert (first, second) == (1, 0)
    assert list(Participant.objects.filter(cycle=cycle).values_list("candidature", "statut")) == [
        (retenue.pk, Participant.Statut.A_CONFIRMER)
    ]


def test_enrol_on_publication_without_a_cycle_does_nothing(published):
    appel, _retenue = published

    assert enrol_on_publication(appel=appel, staff_user=charge_de_mission()) == 0
    assert Participant.objects.count() == 0


def test_retire_on_withdrawal_retires_the_participant():
    participant = ParticipantFactory()
    now = datetime(2021, 6, 2, 10, 0, tzinfo=PARIS)

    retire_on_withdrawal(candidature=participant.candidature, now=now)

    participant.refresh_from_db()
    assert (participant.statut, participant.retire_at) == (Participant.Statut.RETIRE, now)


def test_retire_on_withdrawal_keeps_the_first_withdrawal_date():
    participant = ParticipantFactory()
    first = datetime(2021, 6, 2, 10, 0, tzinfo=PARIS)
    retire_on_withdrawal(candidature=participant.candidature, now=first)

    retire_on_withdrawal(candidature=participant.candidature, now=first + timedelta(days=3))

    participant.refresh_from_db()
    assert (participant.statut, participant.retire_at) == (Participant.Statut.RETIRE, first)


def test_retire_on_withdrawal_without_a_participation_does_nothing(published):
    _appel, retenue = published

    retire_on_withdrawal(candidature=retenue, now=datetime(2021, 6, 2, 10, 0, tzinfo=PARIS))

    assert Participant.objects.count() == 0


def test_cycle_registers_its_side_of_the_decisions_hook():
    hooks = pytest.importorskip("candidatures.decisions.hooks")

    assert enrol_on_publication in hooks.on_published
    assert retire_on_withdrawal in hooks.on_withdrawn
