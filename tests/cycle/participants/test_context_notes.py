"""Context notes e-mailed before each séance to every binôme member: sending, failures, retries."""

import io
import zoneinfo
from datetime import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import EnvoiNoteContexte, Presence
from cycle.participants.context_notes import (
    deliver_context_note,
    send_context_note,
    send_due_context_notes,
)
from tests.cycle.factories import (
    CycleFactory,
    MembreBinomeFactory,
    ParticipantFactory,
)
from tests.factories import charge_de_mission
from tests.utils import FLAKY_MAILERS, FlakyBackend

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
P, A, R = Presence.Statut.PRESENT, Presence.Statut.ABSENT, Presence.Statut.REMPLACE
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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


def test_hourly_task_sends_due_notes_from_7_in_paris_once(
    cycle, seance, participant, mailoutbox, database_queue, settings
):
    from cerdd_ami.models import Tache
    from tests.conftest import run_worker

    path = "cycle.participants.context_notes.send_context_notes"
    settings.PERIODIC_TASKS = {path: 3600}
    seance.note_contexte = "Note."
    seance.save()

    with time_machine.travel(datetime(2021, 5, 8, 6, 30, tzinfo=PARIS), tick=False) as clock:
        run_worker()  # due today, but before 7:00
        assert mailoutbox == []
        clock.shift(3600)
        run_worker()
        assert len(mailoutbox) == 2
        clock.shift(3600)
        run_worker()

    assert len(mailoutbox) == 2
    assert [
        (task.task_path, task.return_value) for task in Tache.objects.order_by("run_after")
    ] == [
        (path, {"seances": 0, "envoyes": 0, "echecs": 0}),
        (path, {"seances": 1, "envoyes": 2, "echecs": 0}),
        (path, {"seances": 0, "envoyes": 0, "echecs": 0}),
        (path, None),  # the next hour's, waiting
    ]
