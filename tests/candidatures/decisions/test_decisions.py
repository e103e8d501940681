"""Décisions: staged by staff, published from the announcement date, letters filed and mailed
once, failures retried; the applicant's side.
"""

import hashlib
import io
from datetime import timedelta

import pytest
import weasyprint
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from candidatures.decisions import letter_templates, letters, publication
from candidatures.decisions import services as decisions_services
from candidatures.models import Courrier, Decision, EnvoiCourrier, Issue
from cerdd_ami import pdf
from tests.candidatures.decisions.decisions_helpers import (
    ANNOUNCEMENT,
    DECIDED,
    LATER,
    MOTIVATIONS,
    RETOUR,
    HTMLFailingFor002,
    decide,
    deposee,
    referents,
    waiting_list,
)
from tests.candidatures.factories import complete_candidature
from tests.factories import UserFactory
from tests.utils import FLAKY_MAILERS, FlakyBackend, page_text, pdf_text

pytestmark = pytest.mark.django_db


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
