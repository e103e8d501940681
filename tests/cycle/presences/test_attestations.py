"""The participants' own attestations de participation, in their space."""

import re
from datetime import date

import pytest
from django.urls import reverse

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import MembreBinome, Presence, Seance
from cycle.presences.services import record_attendance
from tests.cycle.factories import MembreBinomeFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission
from tests.utils import page_text, pdf_text

pytestmark = pytest.mark.django_db
P, A = Presence.Statut.PRESENT, Presence.Statut.ABSENT
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# -- attestations -------------------------------------------------------------------------------


@pytest.fixture
def finished(db):
    """A cycle whose last séance is held, with 2 séances required; the élu·e attended 2,
    the technicien·ne 1."""
    sync_role_permissions()
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    cycle = participant.cycle
    cycle.seances_min_attestation = 2
    cycle.save()
    elu = participant.membres.get(titulaire=True, role=MembreBinome.Role.ELU)
    tech = participant.membres.get(titulaire=True, role=MembreBinome.Role.TECHNICIEN)
    staff = charge_de_mission()
    for numero, tech_status in ((1, P), (2, A)):
        record_attendance(
            seance=cycle.seances.get(numero=numero),
            statuses={elu.pk: (P, None), tech.pk: (tech_status, None)},
            staff_user=staff,
        )
    cycle.seances.filter(numero=7).update(etat=Seance.Etat.TENUE)
    return referent, participant, elu, tech


def reasons(response) -> list[tuple[str, str]]:
    page = page_text(response)
    return re.findall(
        r'<h2 class="h5">(.*?)</h2>.*?(?:<p class="mb-0 attestation-raison">(.*?)</p>|'
        r"<a class=\"btn btn-primary btn-sm\" href=\"[^\"]+\">(.*?)</a>)",
        page,
    )


def test_referent_downloads_the_eligible_members_attestation(client, finished):
    referent, participant, elu, tech = finished
    client.force_login(referent)

    response = client.get(reverse("cycle:attestations", args=[participant.pk]))

    assert response.status_code == 200
    assert reasons(response) == [
        (elu.nom, "", f"Télécharger l'attestation de {elu.nom} (PDF)"),
        (tech.nom, "1 séance suivie, il en faut au moins 2.", ""),
    ]
    pdf = client.get(reverse("cycle:attestation_pdf", args=[participant.pk, elu.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Attestation de participation" in text
    assert elu.nom in text
    assert "a suivi 2 séances sur 7" in text
    assert participant.cycle.appel.signataire_nom in text
    # Not eligible: no PDF.
    assert (
        client.get(reverse("cycle:attestation_pdf", args=[participant.pk, tech.pk])).status_code
        == 404
    )


def test_a_member_sees_and_downloads_only_their_own(client, finished):
    _referent, participant, elu, tech = finished
    client.force_login(UserFactory(email=elu.email.upper()))

    response = client.get(reverse("cycle:attestations", args=[participant.pk]))

    assert reasons(response) == [(elu.nom, "", f"Télécharger l'attestation de {elu.nom} (PDF)")]
    assert (
        client.get(reverse("cycle:attestation_pdf", args=[participant.pk, elu.pk])).status_code
        == 200
    )
    # The technicien·ne's is not theirs, even once eligible.
    record_attendance(
        seance=participant.cycle.seances.get(numero=3),
        statuses={tech.pk: (P, None)},
        staff_user=charge_de_mission(),
    )
    assert (
        client.get(reverse("cycle:attestation_pdf", args=[participant.pk, tech.pk])).status_code
        == 404
    )


def test_anonymous_and_other_collectivites_get_nothing(client, finished):
    _referent, participant, elu, _tech = finished
    other_referent = UserFactory()
    other = ParticipantFactory(cycle=participant.cycle, createur=other_referent)
    urls = [
        reverse("cycle:attestations", args=[participant.pk]),
        reverse("cycle:attestation_pdf", args=[participant.pk, elu.pk]),
    ]
    assert [client.get(url).status_code for url in urls] == [302, 302]
    client.force_login(other_referent)
    assert [client.get(url).status_code for url in urls] == [404, 404]
    # Their own participation does not open another's member either.
    assert client.get(reverse("cycle:attestation_pdf", args=[other.pk, elu.pk])).status_code == 404


def test_before_the_end_of_the_cycle_the_page_says_when(client, finished):
    referent, participant, elu, tech = finished
    participant.cycle.seances.filter(numero=7).update(
        etat=Seance.Etat.CONFIRMEE, date=date(2099, 3, 29)
    )
    suppleant = MembreBinomeFactory(participant=participant, nom="Sacha Lemaire")
    client.force_login(referent)

    response = client.get(reverse("cycle:attestations", args=[participant.pk]))

    waiting = "L'attestation sera disponible à la fin du cycle."
    assert reasons(response) == [
        (elu.nom, waiting, ""),
        (tech.nom, waiting, ""),
        (suppleant.nom, waiting, ""),
    ]
    assert (
        client.get(reverse("cycle:attestation_pdf", args=[participant.pk, elu.pk])).status_code
        == 404
    )
