import zoneinfo
from datetime import datetime

import pytest
from django.core.exceptions import ValidationError

from candidatures.decisions import services as decisions_services
from candidatures.jury import services as jury_services
from candidatures.models import (
    Affectation,
    Appel,
    Candidature,
    Collectivite,
    ConflitInteret,
    Evaluation,
    MembreJury,
    Note,
    RappelJury,
)
from tests.candidatures.factories import AppelFactory, CritereFactory, numbered
from tests.factories import juror
from tests.utils import FLAKY_MAILERS, FlakyBackend

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SUBMITTED_AT = datetime(2021, 2, 1, 10, tzinfo=PARIS)


@pytest.fixture
def appel():
    appel = AppelFactory(edition_2021=True, slug="2021")
    CritereFactory(appel=appel, ordre=1, libelle="Dynamique de transition", note_max=4)
    CritereFactory(appel=appel, ordre=2, libelle="Motivation", note_max=4, poids=2)
    return appel


def submitted(appel, code, numero):
    lookup = {"siren": code} if len(code) == 9 else {"insee": code}
    return Candidature.objects.create(
        appel=appel,
        collectivite=Collectivite.objects.get(**lookup),
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, int(numero.rsplit("-", 1)[1])),
        deposee_at=SUBMITTED_AT,
    )


@pytest.fixture
def dossiers(appel):
    return {
        "arras": submitted(appel, "62041", "AMI-2021-001"),
        "cu_arras": submitted(appel, "200033579", "AMI-2021-002"),
        "lille": submitted(appel, "59350", "AMI-2021-003"),
        "brouillon": Candidature.objects.create(
            appel=appel, collectivite=Collectivite.objects.get(insee="59183")
        ),
    }


def member(appel, collectivite=None, **kwargs):
    user = juror(**kwargs)
    MembreJury.objects.create(appel=appel, user=user, collectivite=collectivite)
    return user


def visible(user):
    return sorted(Candidature.objects.for_juror(user).values_list("numero", flat=True))


def test_for_juror_sees_every_submitted_dossier_of_their_call_and_no_draft(appel, dossiers):
    user = member(appel)

    assert visible(user) == ["AMI-2021-001", "AMI-2021-002", "AMI-2021-003"]


def test_for_juror_outside_the_jury_sees_nothing(appel, dossiers):
    assert visible(juror()) == []


def test_for_juror_tied_to_an_epci_never_sees_it_nor_its_communes(appel, dossiers):
    user = member(appel, Collectivite.objects.get(siren="200033579"))

    assert visible(user) == ["AMI-2021-003"]


def test_for_juror_tied_to_a_commune_never_sees_it_nor_its_epci(appel, dossiers):
    user = member(appel, Collectivite.objects.get(insee="62041"))

    assert visible(user) == ["AMI-2021-003"]


def test_for_juror_in_assignment_mode_sees_only_assigned_dossiers(appel, dossiers):
    Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    user = member(appel)
    Affectation.objects.create(candidature=dossiers["lille"], jure=user)

    assert visible(user) == ["AMI-2021-003"]


def test_refresh_conflicts_records_detected_ties_once(appel, dossiers):
    user = member(appel, Collectivite.objects.get(siren="200033579"), first_name="Mehdi")

    first = jury_services.refresh_conflicts(appel=appel)
    second = jury_services.refresh_conflicts(appel=appel)

    conflicts = ConflitInteret.objects.filter(jure=user).order_by("candidature__numero")
    assert (first, second) == (2, 0)
    assert [(c.candidature.numero, c.origine) for c in conflicts] == [
        ("AMI-2021-001", "detecte"),
        ("AMI-2021-002", "detecte"),
    ]
    assert conflicts[0].motif.endswith("rattaché·e à CU d'Arras, l'EPCI d'Arras.")


def test_declare_conflict_hides_the_dossier_and_needs_a_reason(appel, dossiers):
    user = member(appel)

    with pytest.raises(ValidationError) as missing_reason:
        jury_services.declare_conflict(candidature=dossiers["lille"], jure=user, motif=" ")
    jury_services.declare_conflict(
        candidature=dossiers["lille"], jure=user, motif="Ancien employeur."
    )

    assert missing_reason.value.messages == ["Indiquez la raison pour laquelle vous vous déportez."]
    assert visible(user) == ["AMI-2021-001", "AMI-2021-002"]


def scores(appel, first, second, comment=""):
    one, two = appel.criteres.order_by("ordre")
    return {one: (first, comment), two: (second, "")}


def test_save_evaluation_draft_then_submit(appel, dossiers):
    user = member(appel)

    jury_services.save_evaluation(
        candidature=dossiers["lille"], jure=user, notes=scores(appel, 3, None, "Solide.")
    )
    evaluation = jury_services.save_evaluation(
        candidature=dossiers["lille"],
        jure=user,
        notes=scores(appel, 3, 4),
        retour_collectivite="Un dossier convaincant.",
        recommandation="retenir",
        submit=True,
    )

    assert (evaluation.statut, evaluation.recommandation) == ("soumise", "retenir")
    assert evaluation.submitted_at is not None
    assert list(
        Note.objects.filter(evaluation=evaluation).values_list("critere__ordre", "valeur")
    ) == [(1, 3), (2, 4)]
    assert Evaluation.history.filter(id=evaluation.pk).count() == 2


def test_save_evaluation_refuses_out_of_scale_scores(appel, dossiers):
    user = member(appel)

    with pytest.raises(ValidationError) as error:
        jury_services.save_evaluation(
            candidature=dossiers["lille"], jure=user, notes=scores(appel, 5, -1)
        )

    assert error.value.messages == [
        "« Dynamique de transition » : la note doit être un nombre entier de 0 à 4.",
        "« Motivation » : la note doit être un nombre entier de 0 à 4.",
    ]
    assert Evaluation.objects.count() == 0


def test_save_evaluation_submit_needs_every_score_and_a_recommendation(appel, dossiers):
    user = member(appel)

    with pytest.raises(ValidationError) as error:
        jury_services.save_evaluation(
            candidature=dossiers["lille"], jure=user, notes=scores(appel, 2, None), submit=True
        )

    assert error.value.messages == [
        "Notez chaque critère avant de soumettre : Motivation.",
        "Choisissez une recommandation avant de soumettre.",
    ]


def test_save_evaluation_of_a_hidden_dossier_is_refused(appel, dossiers):
    user = member(appel, Collectivite.objects.get(insee="62041"))

    for dossier in (dossiers["arras"], dossiers["brouillon"]):
        with pytest.raises(jury_services.NotAllowedToScore):
            jury_services.save_evaluation(candidature=dossier, jure=user, notes={})


def test_save_evaluation_after_scoring_closed_is_refused(appel, dossiers):
    user = member(appel)
    jury_services.close_scoring(appel=appel, staff_user=user)

    with pytest.raises(ValidationError) as error:
        jury_services.save_evaluation(candidature=dossiers["lille"], jure=user, notes={})

    assert error.value.messages == [
        "La notation est close : les évaluations ne peuvent plus changer."
    ]


def test_counted_evaluations_leave_out_jurors_in_conflict(appel, dossiers):
    first, second = member(appel), member(appel)
    for user in (first, second):
        jury_services.save_evaluation(
            candidature=dossiers["lille"],
            jure=user,
            notes=scores(appel, 4, 4),
            recommandation="retenir",
            submit=True,
        )

    jury_services.declare_conflict(
        candidature=dossiers["lille"], jure=second, motif="Lien familial."
    )

    assert list(Evaluation.objects.counted().values_list("jure", flat=True)) == [first.pk]


def test_save_evaluation_keeps_a_submitted_evaluation_complete(appel, dossiers):
    user = member(appel)
    jury_services.save_evaluation(
        candidature=dossiers["lille"],
        jure=user,
        notes=scores(appel, 3, 3),
        recommandation="attente",
        submit=True,
    )

    with pytest.raises(ValidationError) as error:
        jury_services.save_evaluation(
            candidature=dossiers["lille"], jure=user, notes=scores(appel, 3, 3)
        )

    assert error.value.messages == ["Choisissez une recommandation avant de soumettre."]
    assert Evaluation.objects.get().recommandation == "attente"


def test_save_evaluation_before_the_deadline_says_scoring_has_not_started(dossiers):
    appel = AppelFactory()
    CritereFactory(appel=appel)
    user = member(appel)
    dossier = submitted(appel, "62528", "AMI-2021-009")

    with pytest.raises(ValidationError) as error:
        jury_services.save_evaluation(candidature=dossier, jure=user, notes={})

    assert error.value.messages == [
        "La notation n'a pas commencé : elle s'ouvre après la date limite de dépôt."
    ]


def test_jury_feedback_quotes_only_evaluations_the_ranking_counts(appel, dossiers):
    kept, removed, tied = member(appel), member(appel), member(appel)
    for user, text in [(kept, "Un projet clair."), (removed, "Parti."), (tied, "Lié.")]:
        jury_services.save_evaluation(
            candidature=dossiers["lille"],
            jure=user,
            notes=scores(appel, 3, 3),
            retour_collectivite=text,
            recommandation="retenir",
            submit=True,
        )
    MembreJury.objects.filter(user=removed).delete()
    # A tie the register does not hold yet (no refresh_conflicts since): still a conflict.
    MembreJury.objects.filter(user=tied).update(
        collectivite=Collectivite.objects.get(insee="59350")
    )

    assert decisions_services.jury_feedback(dossiers["lille"]) == ["Un projet clair."]


def test_jury_reminders_only_while_jurors_can_score(appel, dossiers):
    member(appel)
    staff = juror()

    reminded = jury_services.send_jury_reminders(appel=appel, staff_user=staff)
    jury_services.close_scoring(appel=appel, staff_user=staff)
    with pytest.raises(ValidationError) as closed:
        jury_services.send_jury_reminders(appel=appel, staff_user=staff)

    assert reminded == 1
    assert closed.value.messages == [
        "La notation n'est pas ouverte : aucun rappel n'est envoyé aux juré·es."
    ]


def test_jury_reminder_is_sent_by_its_task_once_and_retried_after_a_refusal(
    appel, dossiers, settings, monkeypatch, mailoutbox
):
    first = member(appel, email="anne.alpha@jury.test")
    second = member(appel, email="bruno.bravo@jury.test")
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({second.email}))

    assert jury_services.send_jury_reminders(appel=appel, staff_user=juror()) == 2
    assert mailoutbox == []  # the worker sends them, once this is committed
    rappels = {r.destinataire: r.pk for r in RappelJury.objects.all()}

    assert jury_services.send_jury_reminder.call(rappel_id=rappels[first.email]) is True
    assert jury_services.send_jury_reminder.call(rappel_id=rappels[first.email]) is False
    with pytest.raises(jury_services.ReminderNotSent):
        jury_services.send_jury_reminder.call(rappel_id=rappels[second.email])
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    assert jury_services.send_jury_reminder.call(rappel_id=rappels[second.email]) is True

    assert [m.to for m in mailoutbox] == [[first.email], [second.email]]
    assert mailoutbox[0].subject == f"Jury « {appel.titre} » : 3 dossiers à évaluer"
    assert sorted(
        RappelJury.objects.values_list("destinataire", "statut", "tentatives", "restants")
    ) == [
        ("anne.alpha@jury.test", "envoye", 1, 3),
        ("bruno.bravo@jury.test", "envoye", 2, 3),
    ]


def test_deliberation_opens_only_after_scoring_closes_and_then_scoring_stays_closed(appel):
    staff = juror()

    with pytest.raises(ValidationError) as too_early:
        jury_services.open_deliberation(appel=appel, staff_user=staff)
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    with pytest.raises(ValidationError) as too_late:
        jury_services.reopen_scoring(appel=appel, staff_user=staff)

    appel.refresh_from_db()
    assert [too_early.value.code, too_late.value.code] == ["scoring_open", "deliberation_open"]
    assert appel.notation_close_at is not None
    assert appel.deliberation_ouverte_at is not None
