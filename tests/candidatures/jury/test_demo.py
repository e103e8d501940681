import zoneinfo
from datetime import datetime, timedelta
from statistics import mean

import pytest
from django.core.management import call_command
from django.db.models import Exists, OuterRef
from django.utils import timezone

from candidatures.jury import services as jury_services
from candidatures.models import (
    Appel,
    Candidature,
    ConflitInteret,
    Decision,
    Evaluation,
    MembreJury,
    Note,
    Recommandation,
)
from tests.demo_snapshot import restore

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _code(candidature):
    return candidature.collectivite.insee or candidature.collectivite.siren


def _snapshot():
    evaluations = list(
        Evaluation.objects.order_by("pk").values_list(
            "pk",
            "candidature",
            "jure",
            "statut",
            "recommandation",
            "commentaire_prive",
            "retour_collectivite",
            "submitted_at",
        )
    )
    notes = list(
        Note.objects.order_by("pk").values_list(
            "pk", "evaluation", "critere", "valeur", "commentaire"
        )
    )
    conflicts = list(
        ConflitInteret.objects.order_by("pk").values_list("candidature", "jure", "origine")
    )
    members = list(MembreJury.objects.order_by("pk").values_list("user", "collectivite", "qualite"))
    return evaluations, notes, conflicts, members


def _recent_appel():
    return Appel.objects.get(slug=str((timezone.localdate() - timedelta(days=21)).year))


# seed_demo renders some seventy PDFs: one test, two runs (the first one shared by the test
# process, tests/demo_snapshot.py), every assertion about the jury.
def test_seed_demo_seats_a_jury_with_conflicts_scores_and_work_left(capsys, demo_snapshot):
    output = restore(demo_snapshot)

    assert "Jury 2021 : 7 membres, 3 conflits d'intérêts" in output
    assert "0 brouillons, 0 à commencer (165 créées)" in output
    assert "notation close le 02/04/2021, délibération ouverte le 06/04/2021." in output
    appel = Appel.objects.get(slug="2021")
    recent = _recent_appel()
    # 2021 is decided: scoring closed, then deliberation opened, then the decisions.
    assert appel.notation_close_at == datetime(2021, 4, 2, 18, tzinfo=PARIS)
    assert appel.deliberation_ouverte_at == datetime(2021, 4, 6, 9, 30, tzinfo=PARIS)
    assert not appel.scoring_is_open()
    decisions = Decision.objects.filter(candidature__appel=appel)
    assert decisions.count() == 24
    assert decisions.filter(published_at__isnull=True).count() == 0
    assert all(
        appel.notation_close_at < appel.deliberation_ouverte_at < d.decided_at < d.published_at
        for d in decisions
    )
    members = MembreJury.objects.filter(appel=appel).select_related("user", "collectivite")
    assert sorted(m.user.email for m in members) == [f"jury{n}@cerdd.test" for n in range(1, 8)]
    assert all(m.qualite for m in members)
    assert [m.collectivite.siren for m in members if m.collectivite] == ["200033579"]
    assert sorted(
        MembreJury.objects.filter(appel=recent).values_list("user__email", flat=True)
    ) == [f"jury{n}@cerdd.test" for n in range(1, 8)]

    conflicts = {
        (c.candidature.appel.slug, c.jure.email, _code(c.candidature), c.origine)
        for c in ConflitInteret.objects.select_related("jure", "candidature__collectivite")
    }
    assert conflicts == {
        ("2021", "jury3@cerdd.test", "62041", ConflitInteret.Origine.DETECTE),
        ("2021", "jury3@cerdd.test", "200033579", ConflitInteret.Origine.DETECTE),
        ("2021", "jury5@cerdd.test", "59350", ConflitInteret.Origine.DECLARE),
        (recent.slug, "jury3@cerdd.test", "62004", ConflitInteret.Origine.DETECTE),  # Achicourt
    }
    declared = ConflitInteret.objects.get(origine=ConflitInteret.Origine.DECLARE)
    assert "budget participatif en 2020" in declared.motif
    in_conflict = ConflitInteret.objects.filter(
        candidature=OuterRef("candidature"), jure=OuterRef("jure")
    )
    assert not Evaluation.objects.filter(Exists(in_conflict)).exists()

    # 2021: every juror submitted every dossier they may see, before the scoring closed.
    jurors = {m.user.email: m.user for m in members}
    for email, juror in jurors.items():
        visible = Candidature.objects.for_juror(juror).filter(appel=appel)
        assert visible.count() == {"jury3@cerdd.test": 22, "jury5@cerdd.test": 23}.get(email, 24)
        evaluations = Evaluation.objects.filter(jure=juror, candidature__appel=appel)
        assert set(evaluations.values_list("candidature", flat=True)) == set(
            visible.values_list("pk", flat=True)
        )
        assert evaluations.filter(statut=Evaluation.Statut.BROUILLON).count() == 0
    assert jury_services.jurors_with_work_left(appel) == []

    submitted = (
        Evaluation.objects.soumises()
        .filter(candidature__appel=appel)
        .select_related("candidature__collectivite")
    )
    assert submitted.count() == 22 + 23 + 24 * 5
    assert all(
        e.recommandation and appel.closes_at < e.submitted_at < appel.notation_close_at
        for e in submitted
    )
    assert sum(bool(e.retour_collectivite) for e in submitted) > 0.7 * submitted.count()
    assert 0 < sum(bool(e.commentaire_prive) for e in submitted) < submitted.count()
    assert set(submitted.values_list("recommandation", flat=True)) == set(Recommandation.values)
    assert Note.objects.filter(evaluation__in=submitted, valeur__isnull=True).count() == 0
    assert Note.objects.exclude(commentaire="").exists()

    def average(code):
        values = Note.objects.filter(
            evaluation__in=[e for e in submitted if _code(e.candidature) == code]
        ).values_list("valeur", flat=True)
        return mean(values)

    assert average("62528") > average("59392")  # Loos-en-Gohelle far above Maubeuge

    dunkerque = {e.recommandation for e in submitted if _code(e.candidature) == "59183"}
    assert {Recommandation.RETENIR, Recommandation.NE_PAS_RETENIR} <= dunkerque

    # The recent call: scoring open, each juror as far as RECENT_PLAN says.
    assert recent.scoring_is_open()
    assert recent.deliberation_ouverte_at is None
    expected = {  # juror: (visible, submitted, drafts)
        "jury1@cerdd.test": (15, 4, 2),
        "jury2@cerdd.test": (15, 15, 0),
        "jury3@cerdd.test": (14, 14, 0),
        "jury4@cerdd.test": (15, 10, 1),
        "jury5@cerdd.test": (15, 12, 0),
        "jury6@cerdd.test": (15, 7, 3),
        "jury7@cerdd.test": (15, 0, 0),
    }
    for email, (visible_count, submitted_count, draft_count) in expected.items():
        juror = jurors[email]
        visible = Candidature.objects.for_juror(juror).filter(appel=recent)
        evaluations = Evaluation.objects.filter(jure=juror, candidature__appel=recent)
        assert (
            visible.count(),
            evaluations.filter(statut=Evaluation.Statut.SOUMISE).count(),
            evaluations.filter(statut=Evaluation.Statut.BROUILLON).count(),
        ) == (visible_count, submitted_count, draft_count), email
        assert set(evaluations.values_list("candidature", flat=True)) <= set(
            visible.values_list("pk", flat=True)
        )
    left = {juror.email: n for juror, n in jury_services.jurors_with_work_left(recent)}
    assert left == {
        "jury1@cerdd.test": 11,
        "jury4@cerdd.test": 5,
        "jury5@cerdd.test": 3,
        "jury6@cerdd.test": 8,
        "jury7@cerdd.test": 15,
    }
    recent_evaluations = Evaluation.objects.filter(candidature__appel=recent)
    assert all(
        recent.closes_at < e.submitted_at < timezone.now() for e in recent_evaluations.soumises()
    )
    assert all(
        not e.recommandation for e in recent_evaluations.filter(statut=Evaluation.Statut.BROUILLON)
    )
    assert recent_evaluations.values("candidature").distinct().count() == 15
    assert "62 évaluations soumises, 6 brouillons, 36 à commencer (68 créées)" in output
    assert not Decision.objects.filter(candidature__appel=recent).exists()

    before = _snapshot()

    call_command("seed_demo")

    output = capsys.readouterr().out
    assert "0 brouillons, 0 à commencer (0 créées)" in output
    assert "62 évaluations soumises, 6 brouillons, 36 à commencer (0 créées)" in output
    assert _snapshot() == before
