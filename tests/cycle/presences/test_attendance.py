"""Staff side of attendance: sign-in sheet, attendance recorded, grid, certificates, access."""

import io
import re
import zoneinfo
from datetime import date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from pypdf import PdfReader

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import MembreBinome, Presence, Seance
from cycle.presences import attendance
from cycle.presences.services import record_attendance
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import (
    CycleFactory,
    MembreBinomeFactory,
    ParticipantFactory,
)
from tests.factories import charge_de_mission, juror
from tests.utils import page_text, pdf_text

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
P, A, R = Presence.Statut.PRESENT, Presence.Statut.ABSENT, Presence.Statut.REMPLACE
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def titulaire(participant, role):
    return participant.membres.get(titulaire=True, role=role)


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def seance(cycle):
    return cycle.seances.get(numero=1)


@pytest.fixture
def participant(cycle):
    return ParticipantFactory(cycle=cycle)


@pytest.fixture
def staff(client):
    sync_role_permissions()
    user = charge_de_mission()
    client.force_login(user)
    return user


# -- sign-in sheet ------------------------------------------------------------------------------


def test_emargement_pdf_lists_collectivites_and_names(client, staff, cycle, seance):
    first, second = ParticipantFactory(cycle=cycle), ParticipantFactory(cycle=cycle)
    response = client.get(f"/admin/cycle/seance/{seance.pk}/emargement.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Feuille d'émargement — séance 1" in text
    for participant in (first, second):
        assert participant.candidature.collectivite.nom in text
        for membre in participant.membres.all():
            assert membre.nom in text
    assert "Élu·e titulaire" in text
    assert "Technicien·ne titulaire" in text
    assert "Signature matin" in text
    # « 9 h 30 », as the rest of the app writes times, not « 09 h 30 ».
    assert re.findall(r"\d+ h \d+ – \d+ h \d+", text) == ["9 h 30 – 16 h 30"]


def test_emargement_pdf_keeps_names_on_one_line_and_a_dozen_collectivites_on_two_pages(
    client, staff, cycle, seance
):
    """Friction of issue 13: names wrapped in narrow cells, three collectivités a page."""
    for index in range(12):
        participant = ParticipantFactory(cycle=cycle)
        participant.membres.filter(role=MembreBinome.Role.ELU).update(
            nom=f"Marie-Christine Vandenbussche-Delacroix {index:02d}",
            fonction="Adjointe au maire déléguée à la démocratie participative et à la vie "
            "associative",
        )
        participant.membres.filter(role=MembreBinome.Role.TECHNICIEN).update(
            nom=f"Jean-Baptiste Lefebvre-Duquesnoy {index:02d}",
            fonction="Chargé de mission développement durable et transition écologique",
        )
        if index % 2:
            MembreBinomeFactory(participant=participant, nom=f"Nadia Ouali-Benhamou {index:02d}")
    names = list(MembreBinome.objects.values_list("nom", flat=True))
    assert len(names) == 30

    response = client.get(f"/admin/cycle/seance/{seance.pk}/emargement.pdf")

    pages = PdfReader(io.BytesIO(response.content)).pages
    lines = [line for page in pages for line in page.extract_text().splitlines()]
    assert [name for name in names if not any(name in line for line in lines)] == []
    assert 1 <= len(pages) <= 2
    text = pdf_text(response.content)
    for participant in cycle.participants.all():
        assert participant.candidature.collectivite.nom in text


# -- attendance ---------------------------------------------------------------------------------


def test_record_attendance_happy_path_and_grid(client, staff, cycle, seance, participant):
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    suppleant = MembreBinomeFactory(participant=participant, nom="Sacha Lemaire")

    response = client.post(
        f"/admin/cycle/seance/{seance.pk}/presences/",
        {
            f"statut-{elu.pk}": R,
            f"remplacant-{elu.pk}": suppleant.pk,
            f"statut-{tech.pk}": P,
            f"statut-{suppleant.pk}": "",
        },
    )
    assert response.status_code == 302
    saved = {p.membre_id: (p.statut, p.remplacant_id) for p in Presence.objects.all()}
    assert saved == {elu.pk: (R, suppleant.pk), tech.pk: (P, None)}
    assert Presence.objects.get(membre=tech).recorded_by == staff
    data = attendance.cycle_attendance(cycle)
    assert data.rows[0].cells[0].state == attendance.COMPLETE
    assert data.alerts == []


def test_replaced_without_replacement_is_refused(client, staff, cycle, seance, participant):
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    MembreBinomeFactory(participant=participant)

    response = client.post(
        f"/admin/cycle/seance/{seance.pk}/presences/",
        {f"statut-{elu.pk}": R, f"remplacant-{elu.pk}": "", f"statut-{tech.pk}": P},
    )
    assert response.status_code == 200
    text = page_text(response)
    assert f"{elu.nom} est indiqué·e « remplacé·e » : choisissez qui l'a remplacé·e." in text
    assert "Les présences n'ont pas été enregistrées : corrigez les lignes signalées." in text
    assert Presence.objects.count() == 0

    with pytest.raises(ValidationError) as error:
        record_attendance(seance=seance, statuses={elu.pk: (P, tech.pk)}, staff_user=staff)
    assert error.value.message_dict == {
        str(elu.pk): [
            f"Un·e remplaçant·e n'est possible pour {elu.nom} qu'avec le statut « remplacé·e »."
        ]
    }


def test_grid_shows_binome_incomplete_when_technicien_absent(client, staff, cycle, seance):
    participant = ParticipantFactory(cycle=cycle)
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    record_attendance(
        seance=seance, statuses={elu.pk: (P, None), tech.pk: (A, None)}, staff_user=staff
    )

    presences = list(Presence.objects.all())
    assert attendance.binome_complete(participant, seance, presences) is False
    assert attendance.binome_complete(participant, cycle.seances.get(numero=2), presences) is None

    response = client.get(f"/admin/cycle/cycle/{cycle.pk}/grille/")
    assert response.status_code == 200
    text = page_text(response)
    nom = participant.candidature.collectivite.nom
    assert f"{nom} — séance 1 du 18/05/2021 : binôme incomplet (technicien·ne absent·e)." in text
    assert f'<th scope="row">{nom}</th> <td class="etat-incomplet">✗ Incomplet</td>' in text
    assert 'role="img" aria-label="Grille des présences' in text

    response = client.get(f"/admin/cycle/seance/{seance.pk}/presences/")
    assert f"{nom} : binôme incomplet (technicien·ne absent·e)." in page_text(response)


@pytest.mark.parametrize(
    ("now", "filename"),
    [
        (datetime(2021, 6, 1, 10, 5, tzinfo=PARIS), "presences-2021-06-01-10h05.xlsx"),
        (datetime(2026, 12, 6, 8, 0, tzinfo=PARIS), "presences-2021-2026-12-06-08h00.xlsx"),
    ],
)
def test_attendance_xlsx_file_name_says_the_year_once(client, staff, now, filename):
    """Named like the other admin exports (the call, then when): a cycle titled with its year
    gave « presences-cycle-2021-2021-06-01… », a long title a word cut at 40 characters."""
    cycle = CycleFactory(appel=AppelFactory(edition_2021=True, slug="2021"), titre="Cycle 2021")

    with time_machine.travel(now, tick=False):
        response = client.get(f"/admin/cycle/cycle/{cycle.pk}/presences.xlsx")

    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_attendance_xlsx(client, staff, cycle, seance, participant):
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    suppleant = MembreBinomeFactory(participant=participant, nom="Sacha Lemaire")
    record_attendance(
        seance=seance, statuses={elu.pk: (R, suppleant.pk), tech.pk: (A, None)}, staff_user=staff
    )

    response = client.get(f"/admin/cycle/cycle/{cycle.pk}/presences.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:6] == [
        "Collectivité",
        "Nom et prénom",
        "Rôle",
        "Titulaire / suppléant·e",
        "E-mail",
        "Séance 1 (18/05/2021)",
    ]
    assert rows[0][-2:] == ["Séances suivies", "Attestation"]
    nom = participant.candidature.collectivite.nom
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name[elu.nom][:6] == [
        nom,
        elu.nom,
        "Élu·e",
        "Titulaire",
        elu.email,
        "Remplacé·e par Sacha Lemaire",
    ]
    assert by_name[elu.nom][-2:] == [0, "non"]
    assert by_name[tech.nom][5] == "Absent·e"
    assert by_name["Sacha Lemaire"][3] == "Suppléant·e"
    assert by_name["Sacha Lemaire"][-2:] == [1, "non"]


def test_tampered_replacement_is_refused(staff, seance, participant):
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    for remplacant in ("abc", tech.pk):
        with pytest.raises(ValidationError) as error:
            record_attendance(seance=seance, statuses={elu.pk: (R, remplacant)}, staff_user=staff)
        assert error.value.message_dict == {
            str(elu.pk): [
                f"{elu.nom} ne peut être remplacé·e que par un·e suppléant·e de sa collectivité."
            ]
        }
    assert Presence.objects.count() == 0


# -- attestations -------------------------------------------------------------------------------


def test_attestation_only_when_enough_seances(client, staff, cycle, participant):
    cycle.seances_min_attestation = 2
    cycle.save()
    elu = titulaire(participant, MembreBinome.Role.ELU)
    tech = titulaire(participant, MembreBinome.Role.TECHNICIEN)
    suppleant = MembreBinomeFactory(participant=participant, nom="Sacha Lemaire")
    s1, s2 = cycle.seances.get(numero=1), cycle.seances.get(numero=2)
    record_attendance(seance=s1, statuses={elu.pk: (P, None), tech.pk: (P, None)}, staff_user=staff)
    record_attendance(
        seance=s2, statuses={elu.pk: (R, suppleant.pk), tech.pk: (A, None)}, staff_user=staff
    )

    response = client.get(f"/admin/cycle/cycle/{cycle.pk}/attestations/{elu.pk}.pdf")
    assert response.status_code == 404
    assert re.findall(r'<p id="attestation-refus">(.*?)</p>', page_text(response)) == [
        f"Pas d'attestation pour {elu.nom} : 1 séance suivie, il en faut au moins 2."
    ]
    assert (
        client.get(f"/admin/cycle/cycle/{cycle.pk}/attestations/{suppleant.pk}.pdf").status_code
        == 404
    )

    record_attendance(
        seance=cycle.seances.get(numero=3), statuses={elu.pk: (P, None)}, staff_user=staff
    )
    # Enough séances, but the cycle is not over: its last séance is neither held nor past.
    cycle.seances.filter(numero=7).update(date=date(2099, 3, 29), etat=Seance.Etat.CONFIRMEE)
    response = client.get(f"/admin/cycle/cycle/{cycle.pk}/attestations/{elu.pk}.pdf")
    assert response.status_code == 404
    assert re.findall(r'<p id="attestation-refus">(.*?)</p>', page_text(response)) == [
        f"Pas d'attestation pour {elu.nom} avant la fin du cycle : l'attestation est "
        "délivrée une fois la dernière séance tenue."
    ]
    mid_cycle_grid = page_text(client.get(f"/admin/cycle/cycle/{cycle.pk}/grille/"))
    assert f"Attestation de {elu.nom} (PDF)" not in mid_cycle_grid
    assert mid_cycle_grid.count("<td>À la fin du cycle</td>") == 1  # the élu·e, eligible
    cycle.seances.filter(numero=7).update(etat=Seance.Etat.TENUE)

    response = client.get(f"/admin/cycle/cycle/{cycle.pk}/attestations/{elu.pk}.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    sentence = re.search(r"a participé au (.*?»)", text).group(1)
    assert sentence == (
        f"cycle de qualification issu de l'appel à manifestation d'intérêt « {cycle.appel.titre} »"
    )
    assert "Attestation de participation" in text
    assert elu.nom in text
    assert "a suivi 2 séances sur 7" in text
    assert cycle.appel.signataire_nom in text
    assert cycle.appel.signataire_fonction in text

    grid = page_text(client.get(f"/admin/cycle/cycle/{cycle.pk}/grille/"))
    assert f"Attestation de {elu.nom} (PDF)" in grid
    assert f"Attestation de {tech.nom} (PDF)" not in grid
    assert attendance.is_eligible(suppleant, cycle) is False


# -- access -------------------------------------------------------------------------------------


URLS = [
    "/admin/cycle/cycle/{cycle}/grille/",
    "/admin/cycle/cycle/{cycle}/presences.xlsx",
    "/admin/cycle/seance/{seance}/presences/",
    "/admin/cycle/seance/{seance}/emargement.pdf",
]


@pytest.mark.parametrize("url", URLS)
def test_access(client, cycle, seance, url):
    url = url.format(cycle=cycle.pk, seance=seance.pk)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")

    sync_role_permissions()
    client.force_login(juror())
    assert client.get(url).status_code == 403

    client.force_login(charge_de_mission())
    assert client.get(url).status_code == 200


def test_grid_query_count_does_not_grow(client, staff, cycle, seance):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/admin/cycle/cycle/{cycle.pk}/grille/").status_code == 200
        return len(queries)

    def add(n):
        for _ in range(n):
            participant = ParticipantFactory(cycle=cycle)
            membres = {m.pk: (P, None) for m in participant.membres.all()}
            record_attendance(seance=seance, statuses=membres, staff_user=staff)

    add(2)
    with_two = count_queries()
    add(4)
    assert count_queries() == with_two
