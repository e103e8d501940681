"""Décisions: staged by staff, published from the announcement date, letters filed and mailed
once, failures retried, the waiting list, the applicant's side and the admin."""

import hashlib
import html
import importlib
import io
import re
import zipfile
import zoneinfo
from datetime import datetime, timedelta

import pytest
import weasyprint
from django.apps import apps as django_apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from candidatures.decisions import letter_templates, letters, publication
from candidatures.decisions import services as decisions_services
from candidatures.jury import services as jury_services
from candidatures.models import (
    Appel,
    Candidature,
    Courrier,
    Decision,
    EnvoiCourrier,
    Evaluation,
    Issue,
    MembreJury,
)
from cerdd_ami import pdf
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.factories import UserFactory, charge_de_mission, juror
from tests.html_forms import parse_form
from tests.utils import FLAKY_MAILERS, FlakyBackend, page_text, pdf_text

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ANNOUNCEMENT = datetime(2021, 4, 15, 9, 0, tzinfo=PARIS)
DECIDED = datetime(2021, 4, 8, 14, 0, tzinfo=PARIS)
LATER = datetime(2021, 4, 15, 9, 10, tzinfo=PARIS)
MOTIVATIONS = {
    Issue.RETENUE: "Une dynamique de transition portée par les élu·es et les habitant·es.",
    Issue.LISTE_ATTENTE: "Un projet solide, un peu moins avancé que ceux retenus.",
    Issue.NON_RETENUE: "Le binôme élu·e et technicien·ne reste à constituer.",
}
RETOUR = "Le jury salue votre budget participatif et vous encourage à associer les jeunes."


def deposee(appel, number, **fields):
    """A complete dossier, submitted (numbered) without going through the submission flow."""
    candidature = complete_candidature(appel=appel, **fields)
    candidature.statut = Candidature.Statut.DEPOSEE
    candidature.numero = f"AMI-2021-{number:03d}"
    candidature.deposee_at = datetime(2021, 3, 1, 10, number, tzinfo=PARIS)
    candidature.save()
    return candidature


@pytest.fixture
def appel():
    return AppelFactory(edition_2021=True, slug="2021", places=12)


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def applicant():
    # The dossier's creator is also its référent·e technique: two addresses receive its mail.
    return UserFactory(email="julien.martin@arras.exemple.test")


@pytest.fixture
def arras(appel, applicant):
    return deposee(appel, 1, createur=applicant)


@pytest.fixture
def lille(appel):
    return deposee(appel, 2)


@pytest.fixture
def amiens(appel):
    return deposee(appel, 3)


def decide(candidature, issue, staff, **fields):
    return decisions_services.decide(
        candidature=candidature,
        issue=issue,
        motivation=fields.pop("motivation", MOTIVATIONS[issue]),
        staff_user=staff,
        now=fields.pop("now", DECIDED),
        **fields,
    )


def waiting_list():
    return [
        (decision.candidature.numero, decision.rang_attente)
        for decision in Decision.objects.filter(issue=Issue.LISTE_ATTENTE).order_by("rang_attente")
    ]


def referents(candidature):
    return [candidature.ref_pol_email, candidature.ref_tech_email]


# ---------------------------------------------------------------------------------------------
# Staging decisions


def test_decide_stages_a_decision_with_its_author_in_the_history(arras, staff):
    decision = decide(arras, Issue.RETENUE, staff, retour_jury=RETOUR)

    decision.refresh_from_db()
    assert (decision.issue, decision.motivation, decision.retour_jury) == (
        Issue.RETENUE,
        MOTIVATIONS[Issue.RETENUE],
        RETOUR,
    )
    assert (decision.decided_by, decision.decided_at, decision.published_at) == (
        staff,
        DECIDED,
        None,
    )
    assert [(h.history_type, h.history_user, h.issue) for h in decision.history.all()] == [
        ("+", staff, Issue.RETENUE)
    ]


def test_decide_refuses_a_draft(appel, staff):
    draft = complete_candidature(appel=appel)

    with pytest.raises(ValidationError) as refused:
        decide(draft, Issue.RETENUE, staff)

    assert refused.value.message_dict == {
        "candidature": ["Seul un dossier déposé peut recevoir une décision."]
    }
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("issue", "label"),
    [(Issue.LISTE_ATTENTE, "liste d'attente"), (Issue.NON_RETENUE, "non retenue")],
)
def test_decide_requires_a_motivation_unless_retained(arras, staff, issue, label):
    with pytest.raises(ValidationError) as refused:
        decide(arras, issue, staff, motivation="  ")

    assert refused.value.message_dict == {
        "motivation": [f"Indiquez la motivation : elle figure dans le courrier « {label} »."]
    }
    assert not Decision.objects.exists()


def test_waiting_list_ranks_follow_and_close_up(appel, arras, lille, amiens, staff):
    decide(arras, Issue.LISTE_ATTENTE, staff)
    second = decide(lille, Issue.LISTE_ATTENTE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff, rang_attente=1)

    assert waiting_list() == [("AMI-2021-003", 1), ("AMI-2021-001", 2), ("AMI-2021-002", 3)]

    decide(arras, Issue.NON_RETENUE, staff)

    assert waiting_list() == [("AMI-2021-003", 1), ("AMI-2021-002", 2)]
    assert [h.rang_attente for h in second.history.order_by("history_id")] == [2, 3, 2]


def test_saving_the_same_decision_again_changes_nothing(arras, staff):
    decision = decide(arras, Issue.RETENUE, staff)

    again = decide(arras, Issue.RETENUE, staff, now=LATER)

    assert again.pk == decision.pk
    assert decision.history.count() == 1


def test_a_published_decision_cannot_change(arras, staff, mailoutbox):
    decide(arras, Issue.NON_RETENUE, staff)
    publication.publish_decisions(appel=arras.appel, now=ANNOUNCEMENT)

    with pytest.raises(ValidationError) as refused:
        decide(arras, Issue.RETENUE, staff, now=LATER)

    assert refused.value.messages == [decisions_services.PUBLISHED_DECISION_LOCKED]
    assert Decision.objects.get().issue == Issue.NON_RETENUE


# ---------------------------------------------------------------------------------------------
# Publication


def test_publishing_before_the_announcement_is_refused_and_changes_nothing(
    appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)

    with pytest.raises(ValidationError) as refused:
        publication.publish_decisions(appel=appel, now=ANNOUNCEMENT - timedelta(seconds=1))

    assert refused.value.messages == [
        "Les décisions ne peuvent être publiées qu'à partir du 15 avril 2021 à 9 h 00 "
        "(heure de Paris)."
    ]
    appel.refresh_from_db()
    assert appel.decisions_published_at is None
    assert Decision.objects.get().published_at is None
    assert (Courrier.objects.count(), EnvoiCourrier.objects.count(), len(mailoutbox)) == (0, 0, 0)


def test_publishing_with_a_dossier_still_undecided_is_refused(appel, arras, lille, staff):
    decide(arras, Issue.RETENUE, staff)

    with pytest.raises(ValidationError) as refused:
        publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)

    assert refused.value.messages == [
        f"1 dossier déposé sans décision : {lille.collectivite.nom} (AMI-2021-002). "
        "Décidez de chaque dossier avant de publier."
    ]
    assert Decision.objects.get().published_at is None


def test_publication_files_each_letter_and_mails_it_to_both_referents(
    appel, arras, lille, amiens, staff, mailoutbox
):
    dossiers = {Issue.RETENUE: arras, Issue.LISTE_ATTENTE: lille, Issue.NON_RETENUE: amiens}
    for issue, dossier in dossiers.items():
        decide(dossier, issue, staff, retour_jury=RETOUR)

    report = publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, staff_user=staff)

    assert (report.published, report.letters_filed, report.sent, report.failed) == (3, 3, 6, 0)
    assert report.summary == (
        "Décisions publiées : 3 ; courriers classés : 3 ; e-mails envoyés : 6 ; échecs : 0."
    )
    appel.refresh_from_db()
    assert appel.decisions_published_at == ANNOUNCEMENT
    wording = {
        Issue.RETENUE: "est retenue pour le cycle de qualification",
        Issue.LISTE_ATTENTE: "Votre candidature est inscrite sur la liste d'attente, au rang 1.",
        Issue.NON_RETENUE: "Nous ne sommes malheureusement pas en mesure de retenir la vôtre",
    }
    for issue, dossier in dossiers.items():
        decision = Decision.objects.get(candidature=dossier)
        assert decision.published_at == ANNOUNCEMENT
        assert decision.history.first().history_change_reason == "Publication"
        courrier = decision.courriers.get()
        pdf = courrier.pdf.read()
        assert (courrier.version, courrier.issue) == (1, issue)
        assert courrier.sha256 == hashlib.sha256(pdf).hexdigest()
        text = pdf_text(pdf)
        assert dossier.collectivite.nom in text
        assert wording[issue] in text
        assert MOTIVATIONS[issue] in text
        assert RETOUR in text
        assert "À Loos-en-Gohelle, le 15 avril 2021" in text
        if issue != Issue.NON_RETENUE:  # the first session is no news to those not retained
            assert "La première journée du cycle" in text or "La première journée aura" in text
            assert "le 18 mai 2021 à Loos-en-Gohelle" in text

        sent = [m for m in mailoutbox if m.to[0] in referents(dossier)]
        assert sorted(m.to[0] for m in sent) == sorted(referents(dossier))
        for message in sent:
            assert message.subject == letter_templates.OBJET_DEFAUT
            assert message.reply_to == [appel.contact_email]
            assert message.attachments[0].filename == letters.letter_filename(decision)
            assert message.attachments[0].content == pdf
            assert message.attachments[0].mimetype == "application/pdf"
            assert f"/candidature/{dossier.pk}/" in message.body
        assert sorted(
            courrier.envois.values_list("destinataire", "statut", "tentatives", "envoye_at")
        ) == sorted((email, "envoye", 1, ANNOUNCEMENT) for email in referents(dossier))
    assert len(mailoutbox) == 6


def test_decision_email_names_an_epci_as_the_letter_does_and_the_jury_only_when_quoted(
    appel, arras, staff, mailoutbox
):
    from candidatures.models import Collectivite

    mel = deposee(appel, 2, collectivite=Collectivite.objects.get(siren="200093201"))
    decide(arras, Issue.RETENUE, staff)
    decide(mel, Issue.NON_RETENUE, staff, retour_jury=RETOUR)

    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)

    bodies = {m.to[0]: m.body for m in mailoutbox}
    to_mel, to_arras = bodies[mel.ref_pol_email], bodies[arras.ref_pol_email]
    assert (
        "Le Cerdd vous adresse sa réponse à la candidature de la Métropole Européenne de Lille "
        f"(dossier n° AMI-2021-002) à l'appel à manifestation d'intérêt « {appel.titre} »."
    ) in to_mel
    assert (
        "Vous le retrouvez aussi, avec la décision et le retour du jury, sur la page du dossier :"
        in to_mel
    )
    assert "la candidature d'Arras (dossier n° AMI-2021-001)" in to_arras
    assert "Vous le retrouvez aussi, avec la décision, sur la page du dossier :" in to_arras
    html = {m.to[0]: m.alternatives[0][0] for m in mailoutbox}
    assert "<strong>de la Métropole Européenne de Lille</strong>" in html[mel.ref_pol_email]
    assert "avec la décision, sur" in html[arras.ref_pol_email]


def test_publishing_twice_sends_each_email_once(appel, arras, lille, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)

    again = publication.publish_decisions(appel=appel, now=LATER)

    assert (again.published, again.letters_filed, again.sent, again.failed) == (0, 0, 0, 0)
    assert len(mailoutbox) == 4
    assert Courrier.objects.count() == 2
    assert set(EnvoiCourrier.objects.values_list("tentatives", flat=True)) == {1}
    appel.refresh_from_db()
    assert appel.decisions_published_at == ANNOUNCEMENT
    assert set(Decision.objects.values_list("published_at", flat=True)) == {ANNOUNCEMENT}


def test_failing_recipient_is_recorded_and_retried_on_the_next_run(
    appel, arras, lille, staff, settings, monkeypatch
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    refused = arras.ref_pol_email
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({refused}))

    first = publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)

    assert (first.sent, first.failed) == (3, 1)
    failed = EnvoiCourrier.objects.get(destinataire=refused)
    assert (failed.statut, failed.tentatives, failed.derniere_tentative_at, failed.envoye_at) == (
        "echec",
        1,
        ANNOUNCEMENT,
        None,
    )
    assert failed.erreur == (
        f"SMTPRecipientsRefused : {{'{refused}': (550, b'5.1.1 Adresse inconnue')}}"
    )
    assert first.failures == [failed]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([arras.ref_tech_email, *referents(lille)])
    assert set(EnvoiCourrier.objects.exclude(pk=failed.pk).values_list("statut", flat=True)) == {
        "envoye"
    }

    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    second = publication.publish_decisions(appel=appel, now=LATER)

    assert (second.published, second.letters_filed, second.sent, second.failed) == (0, 0, 1, 0)
    failed.refresh_from_db()
    assert (failed.statut, failed.tentatives, failed.envoye_at, failed.erreur) == (
        "envoye",
        2,
        LATER,
        "",
    )
    assert [m.to for m in mail.outbox[3:]] == [[refused]]


class HTMLFailingFor002(weasyprint.HTML):
    """WeasyPrint, except that it cannot lay out the letter of dossier AMI-2021-002."""

    def __init__(self, *args, string=None, **kwargs):
        if string and "AMI-2021-002" in string:
            raise OSError("mise en page impossible")
        super().__init__(*args, string=string, **kwargs)


def test_a_failing_letter_does_not_hold_back_the_others_and_is_retried(
    appel, arras, lille, amiens, staff, mailoutbox, monkeypatch
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    decide(amiens, Issue.NON_RETENUE, staff)
    monkeypatch.setattr(pdf, "HTML", HTMLFailingFor002)
    out = io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("publier_decisions", "--appel", "2021", stdout=out)

    assert failed.value.returncode == 1
    assert str(failed.value) == "1 courrier en échec : relancez la commande pour les retenter."
    assert out.getvalue().splitlines() == [
        f"Appel : {appel.titre} (2021)",
        "Décisions publiées : 3",
        "Courriers classés : 2",
        f"  courrier en échec : {lille.collectivite.nom} (AMI-2021-002) — OSError : mise en "
        "page impossible",
        "E-mails envoyés : 4",
        "Échecs : 0",
    ]
    assert sorted(Courrier.objects.values_list("decision__candidature__numero", flat=True)) == [
        "AMI-2021-001",
        "AMI-2021-003",
    ]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras) + referents(amiens))

    monkeypatch.setattr(pdf, "HTML", weasyprint.HTML)
    again = publication.publish_decisions(appel=appel, now=LATER)

    assert (again.published, again.letters_filed, again.sent, again.failed) == (0, 1, 2, 0)
    assert again.letter_failures == []
    assert again.summary == (
        "Décisions publiées : 0 ; courriers classés : 1 ; e-mails envoyés : 2 ; échecs : 0."
    )
    assert Decision.objects.get(candidature=lille).courriers.get().version == 1
    assert sorted(m.to[0] for m in mailoutbox[4:]) == sorted(referents(lille))


def test_publication_report_counts_failed_letters(appel, arras, lille, staff, monkeypatch):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    monkeypatch.setattr(pdf, "HTML", HTMLFailingFor002)

    report = publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, send=False)

    assert [(d.candidature, error) for d, error in report.letter_failures] == [
        (lille, "OSError : mise en page impossible")
    ]
    assert (report.letters_filed, report.letters_failed, report.complete) == (1, 1, False)
    assert report.summary == (
        "Décisions publiées : 2 ; courriers classés : 1 ; courriers en échec : 1 ; "
        "e-mails envoyés : 0 ; échecs : 0."
    )


# ---------------------------------------------------------------------------------------------
# The applicant's side


def test_applicant_sees_the_decision_and_its_letter_only_once_published(
    client, appel, arras, applicant, staff, mailoutbox
):
    decide(arras, Issue.LISTE_ATTENTE, staff, retour_jury=RETOUR)
    client.force_login(applicant)
    dossier_url = f"/candidature/{arras.pk}/"
    letter_url = f"/candidature/{arras.pk}/courrier/"

    before = page_text(client.get(dossier_url))
    assert 'id="decision-titre"' not in before
    assert MOTIVATIONS[Issue.LISTE_ATTENTE] not in before
    assert client.get(letter_url).status_code == 404

    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)

    after = page_text(client.get(dossier_url))
    assert '<h2 id="decision-titre" class="h5">Décision</h2>' in after
    assert (
        "Liste d'attente</span> · rang n° 1 sur la liste d'attente · publiée le 15 avril 2021"
        in after
    )
    assert MOTIVATIONS[Issue.LISTE_ATTENTE] in after
    assert RETOUR in after
    assert f'href="{letter_url}">Télécharger le courrier (PDF)</a>' in after
    response = client.get(letter_url)
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="arras-ami-2021-001.pdf"'
    assert body == Decision.objects.get().courriers.get().pdf.read()


def test_another_applicant_never_gets_the_letter(client, appel, arras, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    client.force_login(UserFactory(email="mairie@ailleurs.test"))
    letter_url = f"/candidature/{arras.pk}/courrier/"

    assert client.get(letter_url).status_code == 404
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    assert client.get(letter_url).status_code == 404
    assert client.get(f"/candidature/{arras.pk}/").status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in_for_a_letter(client, arras):
    response = client.get(f"/candidature/{arras.pk}/courrier/")

    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/?next=")


# ---------------------------------------------------------------------------------------------
# Withdrawal and the waiting list


def test_withdrawal_then_promotion_of_the_first_on_the_waiting_list(
    appel, arras, lille, amiens, staff, mailoutbox
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
    promoted = publication.promote_next(appel=appel, staff_user=staff, now=promoted_at)

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
    assert set(letter.envois.values_list("statut", "envoye_at")) == {("envoye", promoted_at)}

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
# Admin: capacity, bulk decisions, one decision, publication, letters


DECISIONS_URL = "/admin/candidatures/decision/"
SUBMITTED_URL = "/admin/candidatures/candidature/"
APPELS_URL = "/admin/candidatures/appel/"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_capacity_panel_warns_past_capacity(staff_client, appel, arras, lille, amiens, staff):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.RETENUE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)

    content = page_text(staff_client.get(DECISIONS_URL))

    assert (
        f"<strong>1 place — 2 retenues — liste d'attente : 1. {amiens.collectivite.nom}</strong>"
        in content
    )
    assert "⚠ Attention : 2 collectivités retenues pour 1 place." in content


def test_capacity_panel_has_no_warning_within_capacity(staff_client, appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)

    content = page_text(staff_client.get(DECISIONS_URL))

    assert "<strong>12 places — 1 retenue — liste d'attente : vide</strong>" in content
    assert "Attention" not in content


def test_bulk_waiting_list_asks_the_motivation_then_ranks_by_the_jury(
    staff_client, appel, arras, lille, amiens, staff
):
    # The jury prefers Amiens to Lille: the waiting list follows the ranking, not the numbers.
    from tests.candidatures.factories import CritereFactory

    critere = CritereFactory(appel=appel, note_max=4)
    for dossier, score in ((lille, 2), (amiens, 4)):
        jure = juror()
        MembreJury.objects.create(appel=appel, user=jure)
        jury_services.save_evaluation(
            candidature=dossier,
            jure=jure,
            notes={critere: (score, "")},
            retour_collectivite=RETOUR,
            recommandation="attente",
            submit=True,
            now=datetime(2021, 3, 20, 10, tzinfo=PARIS),
        )
    selection = {"action": "decider_liste_attente", "_selected_action": [lille.pk, amiens.pk]}

    page = page_text(staff_client.post(SUBMITTED_URL, selection))

    assert "<h1>Décider : liste d'attente</h1>" in page
    assert decisions_services.default_motivation(Issue.LISTE_ATTENTE, appel) in page
    assert "12 places — 0 retenue — liste d'attente : vide" in page
    table = page[page.index('<table class="decision-lignes">') :]
    assert (
        "<tr> <td>1</td> <td>AMI-2021-003</td> <td>Amiens</td> <td>20,00</td> <td>—</td> </tr> "
        "<tr> <td>2</td> <td>AMI-2021-002</td> <td>Lille</td> <td>10,00</td> <td>—</td> </tr>"
    ) in table

    response = staff_client.post(SUBMITTED_URL, {**selection, "apply": "1", "motivation": "Bien."})

    assert response.status_code == 302
    assert list(
        Decision.objects.order_by("rang_attente").values_list(
            "candidature__numero", "issue", "rang_attente", "motivation", "decided_by"
        )
    ) == [
        ("AMI-2021-003", "liste_attente", 1, "Bien.", staff.pk),
        ("AMI-2021-002", "liste_attente", 2, "Bien.", staff.pk),
    ]
    assert Evaluation.objects.count() == 2


def test_bulk_non_retenue_without_motivation_is_refused_next_to_the_field(staff_client, arras):
    response = staff_client.post(
        SUBMITTED_URL,
        {
            "action": "decider_non_retenue",
            "_selected_action": [arras.pk],
            "apply": "1",
            "motivation": "",
        },
    )

    assert response.status_code == 200
    assert "Indiquez la motivation : elle figure dans le courrier « non retenue »." in page_text(
        response
    )
    assert not Decision.objects.exists()


def test_one_decision_from_the_form_offers_the_jurors_feedback(staff_client, appel, arras, staff):
    from tests.candidatures.factories import CritereFactory

    critere = CritereFactory(appel=appel, note_max=4)
    jure = juror()
    MembreJury.objects.create(appel=appel, user=jure)
    jury_services.save_evaluation(
        candidature=arras,
        jure=jure,
        notes={critere: (3, "")},
        retour_collectivite=RETOUR,
        recommandation="retenir",
        submit=True,
        now=datetime(2021, 3, 20, 10, tzinfo=PARIS),
    )

    form = page_text(staff_client.get(f"{DECISIONS_URL}add/?candidature={arras.pk}"))
    assert f'value="{RETOUR}"' in form

    response = staff_client.post(
        f"{DECISIONS_URL}add/",
        {
            "candidature": arras.pk,
            "issue": "retenue",
            "rang_attente": "",
            "motivation": "",
            "retour_jury": RETOUR,
        },
    )

    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.issue, decision.retour_jury, decision.decided_by) == (
        "retenue",
        RETOUR,
        staff,
    )
    assert decision.history.get().history_user == staff


def test_one_decision_form_shows_the_capacity_and_warns_past_it(
    staff_client, appel, arras, lille, staff
):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    arras_decision = Decision.objects.get(candidature=arras)

    change = page_text(staff_client.get(f"{DECISIONS_URL}{arras_decision.pk}/change/"))
    add = page_text(staff_client.get(f"{DECISIONS_URL}add/?candidature={lille.pk}"))

    for page in (change, add):
        assert "<strong>1 place — 1 retenue — liste d'attente : vide</strong>" in page
        assert "Attention" not in page

    response = staff_client.post(
        f"{DECISIONS_URL}add/",
        {"candidature": lille.pk, "issue": "retenue", "rang_attente": "", "motivation": ""},
        follow=True,
    )

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown[0] == (
        "warning",
        "1 place — 2 retenues — liste d'attente : vide. Attention : 2 collectivités retenues "
        "pour 1 place.",
    )
    assert [level for level, _ in shown] == ["warning", "success"]
    after = page_text(staff_client.get(f"{DECISIONS_URL}{arras_decision.pk}/change/"))
    assert "⚠ Attention : 2 collectivités retenues pour 1 place." in after


def test_admin_records_a_withdrawal_then_calls_the_next_of_the_waiting_list(
    staff_client, appel, arras, lille, amiens, staff, mailoutbox
):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    mailoutbox.clear()
    selection = {
        "action": "enregistrer_desistement",
        "_selected_action": [Decision.objects.get(candidature=arras).pk],
    }
    listing = f"{DECISIONS_URL}?candidature__appel__id__exact={appel.pk}"
    promote_url = f"{DECISIONS_URL}appel/{appel.pk}/appeler-suivant/"

    form = page_text(staff_client.post(DECISIONS_URL, selection))
    assert "<h1>Enregistrer un désistement</h1>" in form
    assert "Appeler le suivant" not in page_text(staff_client.get(listing))

    recorded = staff_client.post(
        DECISIONS_URL, {**selection, "apply": "1", "reason": "Le conseil a renoncé."}, follow=True
    )

    assert [m.message for m in recorded.context["messages"]] == [
        f"Désistement enregistré : {arras.collectivite.nom}. La place libérée peut être proposée "
        "au premier dossier de la liste d'attente (« Appeler le suivant de la liste d'attente », "
        "au-dessus de la liste)."
    ]
    assert Decision.objects.get(candidature=arras).desistement_motif == "Le conseil a renoncé."
    assert f"Appeler le suivant de la liste d'attente ({lille.collectivite.nom})" in page_text(
        staff_client.get(listing)
    )
    assert mailoutbox == []

    assert staff_client.get(promote_url).status_code == 405
    promoted = staff_client.post(promote_url, follow=True)

    assert promoted.redirect_chain == [(listing, 302)]
    assert [(m.level_tag, m.message) for m in promoted.context["messages"]] == [
        (
            "success",
            f"{lille.collectivite.nom} est désormais retenue. Son courrier (version 2) est "
            "envoyé aux référent·es.",
        )
    ]
    decision = Decision.objects.get(candidature=lille)
    assert (decision.issue, decision.rang_attente) == (Issue.RETENUE, None)
    assert list(decision.courriers.values_list("version", "issue")) == [
        (2, Issue.RETENUE),
        (1, Issue.LISTE_ATTENTE),
    ]
    letter = decision.courriers.get(version=2)
    pdf = letter.pdf.read()
    assert decisions_services.PROMOTION_MOTIVATION in pdf_text(pdf)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))
    for message in mailoutbox:
        assert message.attachments[0].content == pdf
        assert "Ce courrier remplace le précédent." in message.body
    assert set(letter.envois.values_list("statut", flat=True)) == {"envoye"}
    assert Decision.objects.get(candidature=amiens).rang_attente == 1


PUBLISHED_IN_BACKGROUND = (
    "Les courriers sont classés et envoyés par e-mail en tâche de fond : suivez-les dans "
    "« Envois de courrier » ; un envoi en échec est retenté, rien de ce qui est parti n'est "
    "renvoyé."
)


def test_publish_action_on_the_appel_list_sends_the_letters_after_the_request(
    staff_client, appel, arras, staff, mailoutbox, django_capture_on_commit_callbacks
):
    decide(arras, Issue.RETENUE, staff)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk]}

    confirm = page_text(staff_client.post(APPELS_URL, selection))
    assert "12 places — 1 retenue — liste d'attente : vide" in confirm
    assert Decision.objects.get().published_at is None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(APPELS_URL, {**selection, "apply": "1"}, follow=True)
        assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
            ("success", f"{appel} : décisions publiées : 1. {PUBLISHED_IN_BACKGROUND}")
        ]
        assert Decision.objects.get().published_at is not None
        # The request rendered and sent nothing: the letters' task runs once it is committed.
        assert (Courrier.objects.count(), mailoutbox) == (0, [])

    assert len(callbacks) == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    assert set(EnvoiCourrier.objects.values_list("statut", flat=True)) == {"envoye"}


def test_publish_action_with_a_failed_letter_the_task_fails_and_its_rerun_files_it(
    staff_client,
    appel,
    arras,
    lille,
    staff,
    mailoutbox,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    monkeypatch.setattr(pdf, "HTML", HTMLFailingFor002)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk], "apply": "1"}

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(APPELS_URL, selection, follow=True)

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("success", f"{appel} : décisions publiées : 2. {PUBLISHED_IN_BACKGROUND}")
    ]
    assert list(Courrier.objects.values_list("decision__candidature", flat=True)) == [arras.pk]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    with pytest.raises(publication.LettersNotDelivered) as failed:
        publication.deliver_letters.call(appel_id=appel.pk)
    assert str(failed.value) == (
        "Décisions publiées : 0 ; courriers classés : 0 ; courriers en échec : 1 ; "
        "e-mails envoyés : 0 ; échecs : 0. "
        f"{lille.collectivite.nom} (OSError : mise en page impossible)"
    )

    monkeypatch.undo()
    mailoutbox.clear()
    assert publication.deliver_letters.call(appel_id=appel.pk) == {
        "courriers_classes": 1,
        "emails_envoyes": 2,
    }

    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))


def test_publish_action_before_the_announcement_says_when(
    staff_client, appel, arras, staff, mailoutbox
):
    appel.announcement_at = datetime(2099, 4, 15, 9, 0, tzinfo=PARIS)
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk], "apply": "1"}

    response = staff_client.post(APPELS_URL, selection, follow=True)

    assert (
        f"{appel} : Les décisions ne peuvent être publiées qu'à partir du 15 avril 2099 à "
        "9 h 00 (heure de Paris)." in page_text(response)
    )
    assert Decision.objects.get().published_at is None
    assert mailoutbox == []


def test_staff_downloads_one_letter_and_exports_merged_and_zip(
    staff_client, appel, arras, lille, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    preview = staff_client.get(
        f"{DECISIONS_URL}{Decision.objects.get(candidature=arras).pk}/courrier/"
    )
    assert preview["Content-Disposition"] == 'inline; filename="apercu-arras-ami-2021-001.pdf"'
    assert Courrier.objects.count() == 0
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    decision = Decision.objects.get(candidature=arras)

    one = staff_client.get(f"{DECISIONS_URL}{decision.pk}/courrier/")
    assert b"".join(one.streaming_content) == decision.courriers.get().pdf.read()

    pks = list(Decision.objects.values_list("pk", flat=True))
    merged = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks})
    assert merged["Content-Type"] == "application/pdf"
    text = pdf_text(merged.content)
    assert text.index("AMI-2021-001") < text.index("AMI-2021-002")
    archive = staff_client.post(DECISIONS_URL, {"action": "export_zip", "_selected_action": pks})
    assert archive["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [
        letters.letter_filename(Decision.objects.get(candidature=dossier))
        for dossier in (arras, lille)
    ]


def test_exports_give_the_filed_letters_even_after_the_template_changed(
    staff_client, appel, arras, lille, staff, mailoutbox, tmp_path
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    appel.modeles_courrier.update(corps="Texte changé après la publication.")
    decisions = [Decision.objects.get(candidature=dossier) for dossier in (arras, lille)]
    filed = [decision.courriers.get() for decision in decisions]
    filed_texts = [pdf_text(courrier.pdf.read()) for courrier in filed]
    expected_zip = {
        letters.letter_filename(decision): courrier.sha256
        for decision, courrier in zip(decisions, filed, strict=True)
    }

    def zip_hashes(data):
        archive = zipfile.ZipFile(io.BytesIO(data))
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}

    pks = [decision.pk for decision in decisions]
    archive = staff_client.post(DECISIONS_URL, {"action": "export_zip", "_selected_action": pks})
    merged = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks})
    one = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks[:1]})

    assert zip_hashes(archive.content) == expected_zip
    assert pdf_text(merged.content) == " ".join(filed_texts)
    assert "Texte changé" not in pdf_text(merged.content)
    assert hashlib.sha256(one.content).hexdigest() == filed[0].sha256

    call_command(
        "export_lettres",
        "--appel",
        "2021",
        "--format",
        "zip",
        "--sortie",
        str(tmp_path / "c.zip"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    call_command(
        "export_lettres",
        "--appel",
        "2021",
        "--sortie",
        str(tmp_path / "c.pdf"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert zip_hashes((tmp_path / "c.zip").read_bytes()) == expected_zip
    assert pdf_text((tmp_path / "c.pdf").read_bytes()) == " ".join(filed_texts)


def test_export_of_more_than_100_letters_points_to_the_command(
    staff_client, arras, lille, staff, settings
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    settings.LETTERS_PER_REQUEST = 1

    response = staff_client.post(
        DECISIONS_URL,
        {
            "action": "export_pdf",
            "_selected_action": list(Decision.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )

    assert response["Content-Type"].startswith("text/html")
    assert (
        "Au plus 1 courriers par export depuis l'administration (sélection : 2). Pour en "
        "exporter davantage, utilisez la commande « python manage.py export_lettres »."
        in page_text(response)
    )


def test_staged_decision_changed_from_its_page_is_saved(staff_client, appel, arras, staff):
    """Defect 2: « Enregistrer » on a staged decision (its letters' inline on the page) lost
    the change in a 500."""
    decide(arras, Issue.RETENUE, staff)
    decision = Decision.objects.get()
    url = f"{DECISIONS_URL}{decision.pk}/change/"
    form = parse_form(staff_client.get(url).content, "decision_form")
    data = form.data("_save", issue="liste_attente", motivation="Un projet solide, encore à mûrir.")
    assert data["courriers-TOTAL_FORMS"] == "0"

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert list(
        Decision.objects.values_list("issue", "rang_attente", "motivation", "decided_by")
    ) == [("liste_attente", 1, "Un projet solide, encore à mûrir.", staff.pk)]
    assert decision.history.count() == 2


@pytest.mark.parametrize("which", ["add", "change"])
def test_decision_form_labels_are_capitalised_alike(staff_client, arras, staff, which):
    if which == "add":
        url = f"{DECISIONS_URL}add/?candidature={arras.pk}"
    else:
        url = f"{DECISIONS_URL}{decide(arras, Issue.RETENUE, staff).pk}/change/"
    content = staff_client.get(url).content.decode()
    start = content.index('id="decision_form"')
    form = content[start : content.index("</form>", start)]

    labels = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", label)).split())
        for label in re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", form, re.S)
    ]

    assert labels
    assert [label for label in labels if not label[:1].isupper()] == []
    if which == "change":
        # One sign for « nothing », as on the other admin pages.
        assert (">—<" in form, ">-<" in form) == (True, False)
    else:
        assert "Retour du jury cité dans le courrier :" in labels


def test_published_decision_page_is_read_only(staff_client, appel, arras, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    decision = Decision.objects.get()

    response = staff_client.post(
        f"{DECISIONS_URL}{decision.pk}/change/",
        {"issue": "non_retenue", "motivation": "Non.", "retour_jury": ""},
    )

    assert response.status_code == 403
    assert Decision.objects.get().issue == Issue.RETENUE


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
