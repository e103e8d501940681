"""Staff side of the cycle: context notes, sign-in sheet, attendance, grid, certificates."""

import io
import re
import zoneinfo
from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from pypdf import PdfReader

from candidatures.models import Issue
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import Cycle, EnvoiNoteContexte, MembreBinome, Participant, Presence, Seance
from cycle.participants.context_notes import (
    deliver_context_note,
    send_context_note,
    send_due_context_notes,
)
from cycle.presences import attendance
from cycle.presences.services import record_attendance
from tests.candidatures.factories import AppelFactory, tiny_pdf_bytes
from tests.cycle.factories import (
    CycleFactory,
    MembreBinomeFactory,
    ParticipantFactory,
    retain,
    submitted_candidature,
)
from tests.factories import charge_de_mission, juror
from tests.utils import FLAKY_MAILERS, FlakyBackend, page_text

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
P, A, R = Presence.Statut.PRESENT, Presence.Statut.ABSENT, Presence.Statut.REMPLACE
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


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


# -- context notes ------------------------------------------------------------------------------


def test_context_note_sent_once_with_attachment(
    cycle, seance, participant, django_capture_on_commit_callbacks, mailoutbox
):
    suppleant = MembreBinomeFactory(participant=participant, email="suppleant@binome.test")
    seance.note_contexte = "Nous parlerons des budgets participatifs."
    seance.note_contexte_fichier.save("note-seance-1.pdf", ContentFile(b"%PDF-1.4 note"))
    seance.save()
    now = datetime(2021, 5, 8, 7, 0, tzinfo=PARIS)

    with django_capture_on_commit_callbacks(execute=True):
        sent = send_context_note(seance=seance, now=now)

    addresses = sorted(m.email.lower() for m in participant.membres.all())
    assert sent == 3
    assert sorted(message.to[0] for message in mailoutbox) == addresses
    assert suppleant.email in addresses
    message = mailoutbox[0]
    assert message.subject == "Note de contexte — séance 1 du 18 mai 2021 à Loos-en-Gohelle"
    assert "Nous parlerons des budgets participatifs." in message.body
    assert message.attachments == [("note-seance-1.pdf", b"%PDF-1.4 note", "application/pdf")]
    seance.refresh_from_db()
    assert seance.note_envoyee_at == now
    assert EnvoiNoteContexte.objects.filter(seance=seance).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        assert send_context_note(seance=seance) == 0
    assert len(mailoutbox) == 3


def envois(seance):
    return {
        envoi.destinataire: (envoi.statut, envoi.tentatives, envoi.envoye_at, envoi.erreur)
        for envoi in EnvoiNoteContexte.objects.filter(seance=seance)
    }


def refusal(address):
    return f"SMTPRecipientsRefused : {{'{address}': (550, b'5.1.1 Adresse inconnue')}}"


def test_failed_context_note_is_logged_as_failed_and_retried_once(
    cycle, seance, participant, settings, monkeypatch, mailoutbox
):
    seance.note_contexte = "Note."
    seance.save()
    elu, tech = (m.email for m in participant.membres.order_by("-role"))
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({tech}))
    first = datetime(2021, 5, 8, 7, 0, tzinfo=PARIS)

    report = deliver_context_note(seance=seance, now=first)

    assert (report.sent, report.failed) == (1, 1)
    assert [message.to for message in mailoutbox] == [[elu]]
    assert envois(seance) == {
        elu: ("envoye", 1, first, ""),
        tech: ("echec", 1, None, refusal(tech)),
    }
    assert [envoi.destinataire for envoi in report.failures] == [tech]
    seance.refresh_from_db()
    assert seance.note_envoyee_at == first

    # Still refused: one more attempt, the sent one untouched.
    second = datetime(2021, 5, 8, 9, 0, tzinfo=PARIS)
    report = deliver_context_note(seance=seance, now=second)
    assert (report.sent, report.failed) == (0, 1)
    assert envois(seance) == {
        elu: ("envoye", 1, first, ""),
        tech: ("echec", 2, None, refusal(tech)),
    }

    # The server accepts it now: sent once, never again.
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    third = datetime(2021, 5, 9, 7, 0, tzinfo=PARIS)
    report = deliver_context_note(seance=seance, now=third)
    assert (report.sent, report.failed) == (1, 0)
    assert envois(seance) == {
        elu: ("envoye", 1, first, ""),
        tech: ("envoye", 3, third, ""),
    }
    assert deliver_context_note(seance=seance, now=third).sent == 0
    assert sorted(message.to[0] for message in mailoutbox) == sorted([elu, tech])
    seance.refresh_from_db()
    assert seance.note_envoyee_at == first


def test_note_never_delivered_is_not_stamped_and_the_command_retries_it(
    cycle, seance, participant, settings, monkeypatch, mailoutbox, time_machine
):
    # Séance 1 is on 18 May 2021, the cycle's delay 10 days.
    seance.note_contexte = "Note."
    seance.save()
    elu, tech = (m.email for m in participant.membres.order_by("-role"))
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({elu, tech}))
    time_machine.move_to(datetime(2021, 5, 8, 7, 0, tzinfo=PARIS), tick=False)

    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("envoyer_notes_contexte", stdout=out)

    assert str(error.value) == (
        "Total : 0 e-mail envoyé, 2 en échec. Relancez la commande (ou attendez son prochain "
        "passage) pour retenter les envois en échec."
    )
    assert out.getvalue() == (
        f"{cycle} — séance 1 du 18 mai 2021 : 0 e-mail envoyé, 2 en échec.\n"
        + "".join(f"  échec : {address} — {refusal(address)}\n" for address in sorted([elu, tech]))
    )
    assert mailoutbox == []
    assert {address: statut for address, (statut, *_rest) in envois(seance).items()} == {
        elu: "echec",
        tech: "echec",
    }
    seance.refresh_from_db()
    assert seance.note_envoyee_at is None

    # The next day's run: the technicien·ne's address works again, the élu·e's still not.
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({elu}))
    time_machine.move_to(datetime(2021, 5, 9, 7, 0, tzinfo=PARIS), tick=False)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("envoyer_notes_contexte", stdout=out)
    assert out.getvalue().splitlines()[0] == (
        f"{cycle} — séance 1 du 18 mai 2021 : 1 e-mail envoyé, 1 en échec."
    )
    assert [message.to for message in mailoutbox] == [[tech]]
    seance.refresh_from_db()
    assert seance.note_envoyee_at == datetime(2021, 5, 9, 7, 0, tzinfo=PARIS)

    # Stamped, yet the failure is retried until it is sent; then nothing more.
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    time_machine.move_to(datetime(2021, 5, 10, 7, 0, tzinfo=PARIS), tick=False)
    out = io.StringIO()
    call_command("envoyer_notes_contexte", stdout=out)
    assert out.getvalue() == (
        f"{cycle} — séance 1 du 18 mai 2021 : 1 e-mail envoyé.\nTotal : 1 e-mail envoyé.\n"
    )
    assert [message.to for message in mailoutbox] == [[tech], [elu]]
    assert envois(seance)[elu][:2] == ("envoye", 3)
    out = io.StringIO()
    call_command("envoyer_notes_contexte", stdout=out)
    assert out.getvalue() == "Aucune note de contexte à envoyer.\n"
    assert len(mailoutbox) == 2


def test_due_notes_are_counted_in_paris_days_across_midnight(
    cycle, seance, participant, mailoutbox, time_machine
):
    # Due from 8 May 2021 (18 May minus 10 days), a Paris date: 23:30 UTC on 7 May is
    # already 8 May at 1:30 in Paris (UTC+2), while 21:30 UTC is still 7 May there.
    seance.note_contexte = "Note."
    seance.save()
    utc = zoneinfo.ZoneInfo("UTC")

    time_machine.move_to(datetime(2021, 5, 7, 21, 30, tzinfo=utc), tick=False)
    assert send_due_context_notes() == []
    assert mailoutbox == []

    time_machine.move_to(datetime(2021, 5, 7, 23, 30, tzinfo=utc), tick=False)
    out = io.StringIO()
    call_command("envoyer_notes_contexte", stdout=out)
    assert out.getvalue() == (
        f"{cycle} — séance 1 du 18 mai 2021 : 2 e-mails envoyés.\nTotal : 2 e-mails envoyés.\n"
    )
    assert len(mailoutbox) == 2
    seance.refresh_from_db()
    assert seance.note_envoyee_at == datetime(2021, 5, 7, 23, 30, tzinfo=utc)


def test_send_note_action_reports_sent_and_failed_addresses(
    client, staff, seance, participant, settings, monkeypatch, mailoutbox, time_machine
):
    seance.note_contexte = "Note."
    seance.save()
    elu, tech = (m.email for m in participant.membres.order_by("-role"))
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({tech}))
    time_machine.move_to(datetime(2021, 5, 8, 7, 0, tzinfo=PARIS), tick=False)

    response = client.post(
        "/admin/cycle/seance/",
        {"action": "envoyer_note", "_selected_action": [seance.pk]},
        follow=True,
    )

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("success", "Séance 1 : note de contexte envoyée à 1 personne."),
        (
            "error",
            f"Séance 1 : échec de l'envoi à {tech} ({refusal(tech)}). "
            "Relancez l'action pour réessayer.",
        ),
    ]
    assert [message.to for message in mailoutbox] == [[elu]]


def test_failed_note_is_not_retried_once_the_seance_is_past(
    cycle, seance, participant, settings, monkeypatch, mailoutbox, time_machine
):
    seance.note_contexte = "Note."
    seance.save()
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(
        FlakyBackend, "refused", frozenset(participant.membres.values_list("email", flat=True))
    )
    deliver_context_note(seance=seance, now=datetime(2021, 5, 8, 7, 0, tzinfo=PARIS))
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())

    time_machine.move_to(datetime(2021, 5, 19, 7, 0, tzinfo=PARIS), tick=False)
    out = io.StringIO()
    call_command("envoyer_notes_contexte", stdout=out)

    assert out.getvalue() == "Aucune note de contexte à envoyer.\n"
    assert mailoutbox == []


def test_context_note_refused_without_note(seance, participant):
    with pytest.raises(ValidationError) as error:
        send_context_note(seance=seance)
    assert error.value.messages == [
        "La séance 1 n'a pas de note de contexte : rédigez-la ou joignez un fichier avant de "
        "l'envoyer."
    ]


def test_due_notes_command_sends_only_within_the_delay(
    cycle, seance, participant, django_capture_on_commit_callbacks, mailoutbox, time_machine
):
    # Séance 1 is on 18 May 2021, the cycle's delay 10 days.
    seance.note_contexte = "Note."
    seance.save()
    assert cycle.jours_avant_note == 10

    time_machine.move_to(datetime(2021, 5, 7, 8, 0, tzinfo=PARIS))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_context_notes() == []
    assert mailoutbox == []

    time_machine.move_to(datetime(2021, 5, 8, 8, 0, tzinfo=PARIS))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("envoyer_notes_contexte", stdout=out)
    assert len(mailoutbox) == 2
    assert out.getvalue() == (
        f"{cycle} — séance 1 du 18 mai 2021 : 2 e-mails envoyés.\nTotal : 2 e-mails envoyés.\n"
    )

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("envoyer_notes_contexte", stdout=out)
    assert len(mailoutbox) == 2
    assert out.getvalue() == "Aucune note de contexte à envoyer.\n"


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
    assert len(pages) <= 2
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
    sentence = re.search(r"a participé au (.*?»)", " ".join(text.split())).group(1)
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


# -- the context note's file --------------------------------------------------------------------


def _change_form_data(client, url) -> dict:
    """What the admin's change form posts back unchanged, file input aside (no inline rows:
    the séance has no documents here)."""
    context = client.get(url).context
    form = context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if name != "note_contexte_fichier" and value is not None:
            data[name] = value
    for inline in context["inline_admin_formsets"]:
        assert inline.formset.initial_form_count() == 0
        data[f"{inline.formset.prefix}-TOTAL_FORMS"] = 0
        data[f"{inline.formset.prefix}-INITIAL_FORMS"] = 0
    return data


def test_context_note_file_is_checked_like_an_applicants_document(client, staff, seance, settings):
    url = f"/admin/cycle/seance/{seance.pk}/change/"
    data = _change_form_data(client, url)
    note = tiny_pdf_bytes("Note de contexte")
    errors = []
    for clamd_socket, upload in [
        ("", SimpleUploadedFile("note.pdf", b"MZ\x90\x00 un programme, pas un PDF")),
        ("/nonexistent/clamd.ctl", SimpleUploadedFile("note.pdf", note)),
    ]:
        settings.CLAMD_SOCKET = clamd_socket
        response = client.post(url, {**data, "note_contexte_fichier": upload})
        errors += response.context["adminform"].form.errors["note_contexte_fichier"]
    seance.refresh_from_db()
    refused_name = seance.note_contexte_fichier.name

    settings.CLAMD_SOCKET = ""
    accepted = client.post(
        url, {**data, "note_contexte_fichier": SimpleUploadedFile("note.pdf", note)}
    )

    assert errors == [
        "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, quel que soit "
        "son nom.",
        "L'analyse antivirus est momentanément indisponible : le fichier n'a pas été "
        "enregistré. Réessayez dans quelques minutes ; le reste du dossier est conservé.",
    ]
    assert refused_name == ""
    assert accepted["Location"] == "/admin/cycle/seance/"
    seance.refresh_from_db()
    with seance.note_contexte_fichier.open("rb") as stored:
        assert stored.read() == note


# -- starting a cycle from the admin ------------------------------------------------------------


def test_adding_a_cycle_in_the_admin_creates_its_seances_and_enrols_the_retained(client, staff):
    appel = AppelFactory(edition_2021=True)
    retained = submitted_candidature(appel)
    retain(retained)
    retain(submitted_candidature(appel), issue=Issue.NON_RETENUE)
    retain(submitted_candidature(appel), published=False)

    response = client.post(
        "/admin/cycle/cycle/add/",
        {"appel": appel.pk, "titre": "", "seances_min_attestation": 5, "jours_avant_note": 10},
        follow=True,
    )

    assert response.status_code == 200
    cycle = Cycle.objects.get(appel=appel)
    assert cycle.titre == f"Cycle de qualification — {appel.titre}"
    assert list(cycle.seances.values_list("numero", "date", "lieu")) == [
        (1, date(2021, 5, 18), "Loos-en-Gohelle"),
        (2, date(2021, 7, 6), "À définir"),
        (3, date(2021, 9, 28), "À définir"),
        (4, date(2021, 11, 9), "À définir"),
        (5, date(2021, 12, 14), "À définir"),
        (6, date(2022, 2, 8), "À définir"),
        (7, date(2022, 3, 29), "À définir"),
    ]
    assert list(cycle.participants.values_list("candidature", flat=True)) == [retained.pk]
    assert [str(m) for m in response.context["messages"]] == [
        "7 séances créées depuis l'appel ; 1 collectivité(s) retenue(s) inscrite(s) au cycle.",
        f'L\'objet cycle «\xa0<a href="/admin/cycle/cycle/{cycle.pk}/change/">{cycle.titre}</a>'
        "\xa0» a été ajouté avec succès.",
    ]


def test_adding_a_cycle_needs_the_calls_first_session_date(client, staff):
    appel = AppelFactory(edition_2021=True, first_session_date=None)

    response = client.post(
        "/admin/cycle/cycle/add/",
        {"appel": appel.pk, "titre": "", "seances_min_attestation": 5, "jours_avant_note": 10},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "appel": [
            "Indiquez d'abord la date de la première journée du cycle dans l'appel : les "
            "séances sont créées à partir d'elle."
        ]
    }
    assert not Cycle.objects.filter(appel=appel).exists()


def test_action_creates_the_missing_seances_once(client, staff, cycle):
    cycle.seances.filter(numero__in=[6, 7]).delete()
    cycle.seances.filter(numero=1).update(lieu="Arras")
    data = {"action": "creer_seances", "_selected_action": [cycle.pk]}

    first = client.post("/admin/cycle/cycle/", data, follow=True)
    second = client.post("/admin/cycle/cycle/", data, follow=True)

    assert [str(m) for m in first.context["messages"]] == [
        f"{cycle.titre} : 2 séance(s) créée(s) depuis l'appel."
    ]
    assert [str(m) for m in second.context["messages"]] == [
        f"{cycle.titre} : les 7 séances existent déjà, rien n'a été modifié."
    ]
    assert list(cycle.seances.values_list("numero", flat=True)) == [1, 2, 3, 4, 5, 6, 7]
    assert cycle.seances.get(numero=1).lieu == "Arras"


# -- participants in the admin ------------------------------------------------------------------


def _participant_post(cycle, candidature) -> dict:
    return {
        "cycle": cycle.pk,
        "candidature": candidature.pk,
        "membres-TOTAL_FORMS": 0,
        "membres-INITIAL_FORMS": 0,
        "membres-MIN_NUM_FORMS": 0,
        "membres-MAX_NUM_FORMS": 1000,
    }


def test_participant_status_is_read_only_in_the_admin(client, staff, participant):
    url = f"/admin/cycle/participant/{participant.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert sorted(form.fields) == ["candidature", "cycle"]

    data = {
        "cycle": participant.cycle_id,
        "candidature": participant.candidature_id,
        "statut": Participant.Statut.RETIRE,
        "membres-TOTAL_FORMS": 0,
        "membres-INITIAL_FORMS": 0,
        "membres-MIN_NUM_FORMS": 0,
        "membres-MAX_NUM_FORMS": 1000,
    }
    assert client.post(url, data).status_code == 302
    participant.refresh_from_db()
    assert (participant.statut, participant.retire_at) == (Participant.Statut.A_CONFIRMER, None)


def test_admin_adds_only_a_dossier_retained_by_the_cycles_call(client, staff, cycle):
    not_retained = submitted_candidature(cycle.appel)
    retain(not_retained, issue=Issue.LISTE_ATTENTE)
    staged = submitted_candidature(cycle.appel)
    retain(staged, published=False)
    retained = submitted_candidature(cycle.appel)
    retain(retained)

    errors = []
    for candidature in (not_retained, staged):
        response = client.post(
            "/admin/cycle/participant/add/", _participant_post(cycle, candidature)
        )
        errors.append(response.context["adminform"].form.errors["candidature"])
    accepted = client.post("/admin/cycle/participant/add/", _participant_post(cycle, retained))

    message = (
        "Ce dossier n'a pas de décision « retenue » publiée (sans désistement) pour l'appel du "
        f"cycle « {cycle.appel} » : il ne peut pas participer au cycle."
    )
    assert errors == [[message], [message]]
    assert accepted.status_code == 302
    assert list(Participant.objects.values_list("candidature", "statut")) == [
        (retained.pk, Participant.Statut.A_CONFIRMER)
    ]
