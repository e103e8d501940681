"""Décisions: withdrawal and the waiting list, the publier_decisions command, the demo data."""

import importlib
import io
from datetime import datetime

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from candidatures.decisions import publication
from candidatures.decisions import services as decisions_services
from candidatures.jury import services as jury_services
from candidatures.models import Appel, Decision, Issue, MembreJury
from cerdd_ami.formats import format_datetime_fr
from tests.candidatures.decisions.decisions_helpers import (
    ANNOUNCEMENT,
    DECIDED,
    DECISIONS_URL,
    PARIS,
    decide,
    deposee,
    referents,
)
from tests.candidatures.factories import AppelFactory
from tests.factories import juror
from tests.utils import FLAKY_MAILERS, FlakyBackend, page_text, pdf_text

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Withdrawal and the waiting list


def test_withdrawal_then_promotion_of_the_first_on_the_waiting_list(
    appel, arras, lille, amiens, staff, mailoutbox, django_capture_on_commit_callbacks
):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    mailoutbox.clear()
    withdrawn_at = datetime(2021, 4, 20, 11, 0, tzinfo=PARIS)
    promoted_at = datetime(2021, 4, 21, 10, 0, tzinfo=PARIS)

    with pytest.raises(ValidationError) as full:
        publication.promote_next(appel=appel, staff_user=staff, now=withdrawn_at)
    assert full.value.messages == [
        "Aucune place n'est libre : 1 place, 1 collectivité retenue. Enregistrez d'abord le "
        "désistement d'une collectivité retenue."
    ]

    decisions_services.record_withdrawal(
        candidature=arras,
        staff_user=staff,
        reason="Le conseil municipal a renoncé au cycle.",
        now=withdrawn_at,
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        promoted = publication.promote_next(appel=appel, staff_user=staff, now=promoted_at)
        assert mailoutbox == []  # the letters' task runs once the promotion is committed

    assert len(callbacks) == 1
    withdrawn = Decision.objects.get(candidature=arras)
    assert (withdrawn.desistement_at, withdrawn.desistement_motif) == (
        withdrawn_at,
        "Le conseil municipal a renoncé au cycle.",
    )
    latest = withdrawn.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        staff,
        "Désistement : Le conseil municipal a renoncé au cycle.",
    )
    promoted.refresh_from_db()
    assert promoted.candidature == lille
    assert (promoted.issue, promoted.rang_attente, promoted.motivation) == (
        Issue.RETENUE,
        None,
        decisions_services.PROMOTION_MOTIVATION,
    )
    assert (promoted.published_at, promoted.decided_at, promoted.decided_by) == (
        promoted_at,
        promoted_at,
        staff,
    )
    assert [(h.issue, h.rang_attente) for h in promoted.history.order_by("history_id")] == [
        (Issue.LISTE_ATTENTE, 1),
        (Issue.LISTE_ATTENTE, 1),  # publication
        (Issue.RETENUE, None),
    ]
    assert Decision.objects.get(candidature=amiens).rang_attente == 1

    versions = list(promoted.courriers.values_list("version", "issue"))
    assert versions == [(2, Issue.RETENUE), (1, Issue.LISTE_ATTENTE)]
    letter = promoted.courriers.get(version=2)
    pdf = letter.pdf.read()
    text = pdf_text(pdf)
    assert "est retenue pour le cycle de qualification" in text
    assert decisions_services.PROMOTION_MOTIVATION in text
    assert "le 21 avril 2021" in text
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))
    assert all(m.attachments[0].content == pdf for m in mailoutbox)
    assert set(letter.envois.values_list("statut", "tentatives")) == {("envoye", 1)}

    assert decisions_services.capacity(appel).texte == (
        f"1 place — 1 retenue — liste d'attente : 1. {amiens.collectivite.nom}"
    )


def test_withdrawal_and_promotion_follow_through_to_the_cycle(
    appel, arras, lille, amiens, staff, mailoutbox
):
    from cycle.models import Participant
    from cycle.seances.services import ensure_cycle

    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)
    cycle = ensure_cycle(appel)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, staff_user=staff)
    withdrawn_at = datetime(2021, 4, 20, 11, 0, tzinfo=PARIS)
    promoted_at = datetime(2021, 4, 21, 10, 0, tzinfo=PARIS)

    def participants():
        return list(
            Participant.objects.order_by("candidature__numero").values_list(
                "cycle", "candidature__numero", "statut", "retire_at"
            )
        )

    assert participants() == [(cycle.pk, "AMI-2021-001", "a_confirmer", None)]

    decisions_services.record_withdrawal(
        candidature=arras, staff_user=staff, reason="Élections municipales.", now=withdrawn_at
    )
    assert participants() == [(cycle.pk, "AMI-2021-001", "retire", withdrawn_at)]

    publication.promote_next(appel=appel, staff_user=staff, now=promoted_at)
    assert participants() == [
        (cycle.pk, "AMI-2021-001", "retire", withdrawn_at),
        (cycle.pk, "AMI-2021-002", "a_confirmer", None),
    ]
    enrolled = Participant.objects.get(candidature=lille)
    assert sorted(enrolled.membres.values_list("email", flat=True)) == sorted(referents(lille))


def test_promotion_before_publication_enrols_nobody_yet(appel, arras, lille, staff):
    from cycle.models import Participant
    from cycle.seances.services import ensure_cycle

    appel.places = 2
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    ensure_cycle(appel)

    publication.promote_next(appel=appel, staff_user=staff, now=DECIDED)

    assert Decision.objects.get(candidature=lille).issue == Issue.RETENUE
    assert Participant.objects.count() == 0


def test_promote_next_with_an_empty_waiting_list_returns_none(appel, arras, staff):
    decide(arras, Issue.NON_RETENUE, staff)

    assert publication.promote_next(appel=appel, staff_user=staff) is None


def test_withdrawal_needs_a_retained_collectivite_and_a_reason(arras, staff):
    decide(arras, Issue.NON_RETENUE, staff)

    with pytest.raises(ValidationError) as no_reason:
        decisions_services.record_withdrawal(candidature=arras, staff_user=staff, reason=" ")
    with pytest.raises(ValidationError) as not_retained:
        decisions_services.record_withdrawal(candidature=arras, staff_user=staff, reason="Renonce.")

    assert no_reason.value.message_dict == {"reason": ["Indiquez le motif du désistement."]}
    assert not_retained.value.messages == ["Seule une collectivité retenue peut se désister."]


def test_record_withdrawal_keeps_a_long_reason_whole(appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)
    reason = "Le conseil municipal a renoncé au cycle " + "après un long débat " * 10 + "."

    decisions_services.record_withdrawal(candidature=arras, staff_user=staff, reason=reason)

    decision = Decision.objects.get(candidature=arras)
    assert decision.desistement_motif == reason
    assert decision.history.first().history_change_reason == f"Désistement : {reason}"[:100]


def test_withdrawal_without_motif_is_refused_by_the_database(appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)

    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(candidature=arras).update(desistement_at=timezone.now())


def test_migration_fills_the_motif_of_earlier_withdrawals_from_the_history(
    appel, arras, lille, staff
):
    migration = importlib.import_module(
        "candidatures.migrations.0009_fill_desistement_motif_from_history"
    )
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.RETENUE, staff)
    decisions_services.record_withdrawal(candidature=arras, staff_user=staff, reason="Élections.")
    # As the code before the field recorded it: the reason in the history row only. The
    # schema of that time had no constraint (this test's transaction rolls the DROP back).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no check
        cursor.execute(
            "ALTER TABLE candidatures_decision DROP CONSTRAINT decision_withdrawal_has_motif"
        )
    Decision.objects.filter(candidature=arras).update(desistement_motif="")
    Decision.objects.filter(candidature=lille).update(desistement_at=timezone.now())

    migration.fill_desistement_motif_from_history(django_apps, None)

    assert dict(
        Decision.objects.values_list("candidature__collectivite__nom", "desistement_motif")
    ) == {"Arras": "Élections.", "Lille": migration.UNKNOWN_REASON}


# ---------------------------------------------------------------------------------------------
# The publier_decisions command


def test_command_refuses_before_the_announcement_with_exit_code_1(arras, staff):
    early = AppelFactory(slug="2027")
    decide(deposee(early, 9), Issue.RETENUE, staff)

    with pytest.raises(CommandError) as refused:
        call_command("publier_decisions", "--appel", "2027")

    assert refused.value.returncode == 1
    assert str(refused.value) == (
        "Les décisions ne peuvent être publiées qu'à partir du "
        f"{format_datetime_fr(early.announcement_at)} (heure de Paris)."
    )
    assert Appel.objects.get(slug="2027").decisions_published_at is None


def test_command_reports_and_exits_1_while_failures_remain(
    appel, arras, staff, settings, monkeypatch
):
    decide(arras, Issue.RETENUE, staff)
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({arras.ref_pol_email}))
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("publier_decisions", "--appel", "2021", stdout=out)

    assert failed.value.returncode == 1
    assert str(failed.value) == "1 envoi en échec : relancez la commande pour les retenter."
    assert out.getvalue().splitlines()[:5] == [
        f"Appel : {appel.titre} (2021)",
        "Décisions publiées : 1",
        "Courriers classés : 1",
        "E-mails envoyés : 1",
        "Échecs : 1",
    ]

    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    out = io.StringIO()
    call_command("publier_decisions", "--appel", "2021", stdout=out)

    assert out.getvalue().splitlines() == [
        f"Appel : {appel.titre} (2021)",
        "Décisions publiées : 0",
        "Courriers classés : 0",
        "E-mails envoyés : 1",
        "Échecs : 0",
        "Publication terminée.",
    ]


def test_command_unknown_appel(db):
    with pytest.raises(CommandError) as unknown:
        call_command("publier_decisions", "--appel", "inconnu")

    assert str(unknown.value) == "Aucun appel « inconnu »."


# ---------------------------------------------------------------------------------------------
# Demo data


def test_seed_decisions_follows_the_ranking_and_is_idempotent(appel, staff):
    from candidatures.decisions.demo import seed_decisions
    from tests.candidatures.factories import CritereFactory

    appel.places = 2
    appel.save()
    critere = CritereFactory(appel=appel, note_max=4)
    jure = juror()
    MembreJury.objects.create(appel=appel, user=jure)
    dossiers = [deposee(appel, number) for number in range(1, 7)]
    for score, dossier in enumerate(dossiers):
        jury_services.save_evaluation(
            candidature=dossier,
            jure=jure,
            notes={critere: (min(score, 4), "")},
            retour_collectivite=f"Retour {dossier.numero}",
            recommandation="retenir",
            submit=True,
            now=datetime(2021, 3, 20, 10, tzinfo=PARIS),
        )

    summary = seed_decisions(appel, staff_user=staff)
    again = seed_decisions(appel, staff_user=staff)

    assert summary == {"retenues": 2, "liste_attente": 3, "non_retenues": 1, "creees": 6}
    assert again == {**summary, "creees": 0}
    rows = list(
        Decision.objects.order_by("candidature__numero").values_list(
            "candidature__numero", "issue", "rang_attente", "retour_jury", "published_at"
        )
    )
    # Scores 0, 1, 2, 3, 4, 4: the two best retained, the next three waiting in ranking order.
    assert rows == [
        ("AMI-2021-001", "non_retenue", None, "Retour AMI-2021-001", None),
        ("AMI-2021-002", "liste_attente", 3, "Retour AMI-2021-002", None),
        ("AMI-2021-003", "liste_attente", 2, "Retour AMI-2021-003", None),
        ("AMI-2021-004", "liste_attente", 1, "Retour AMI-2021-004", None),
        ("AMI-2021-005", "retenue", None, "Retour AMI-2021-005", None),
        ("AMI-2021-006", "retenue", None, "Retour AMI-2021-006", None),
    ]
    assert appel.modeles_courrier.count() == 3


def test_decision_page_lists_letters_sendings_and_history(
    staff_client, appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    decision = Decision.objects.get()
    staged = page_text(staff_client.get(f"{DECISIONS_URL}{decision.pk}/change/"))
    assert 'name="motivation"' in staged
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, staff_user=staff)

    page = page_text(staff_client.get(f"{DECISIONS_URL}{decision.pk}/change/"))
    history = page_text(staff_client.get(f"{DECISIONS_URL}{decision.pk}/history/"))

    assert 'name="motivation"' not in page
    assert "Courrier v1 (PDF)" in page
    for email in referents(arras):
        assert f"{email} : Envoyé le 15 avril 2021 à 9 h 00" in page
    assert "Publiée le" in page
    rows = history[history.index('id="change-history"') :]
    assert rows.count(f">{staff.get_full_name()}</a>") == 2
    assert "<td> Publication </td>" in rows
