from statistics import mean

import pytest
from django.core.management import call_command
from django.db.models import Exists, OuterRef

from candidatures import services
from candidatures.models import (
    Appel,
    Candidature,
    ConflitInteret,
    Evaluation,
    MembreJury,
    Note,
    Recommandation,
)
from cerdd_ami.models import User

pytestmark = pytest.mark.django_db


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


# seed_demo renders some fifty PDFs: one test, two runs, every assertion about the jury.
def test_seed_demo_seats_a_jury_with_conflicts_scores_and_work_left(capsys):
    call_command("seed_demo")

    assert "Jury 2021 : 7 membres" in capsys.readouterr().out
    appel = Appel.objects.get(slug="2021")
    assert appel.deliberation_ouverte_at is None
    assert appel.scoring_is_open()
    members = MembreJury.objects.filter(appel=appel).select_related("user", "collectivite")
    assert sorted(m.user.email for m in members) == [f"jury{n}@cerdd.test" for n in range(1, 8)]
    assert all(m.qualite for m in members)
    assert [m.collectivite.siren for m in members if m.collectivite] == ["200033579"]

    conflicts = {
        (c.jure.email, _code(c.candidature), c.origine)
        for c in ConflitInteret.objects.select_related("jure", "candidature__collectivite")
    }
    assert conflicts == {
        ("jury3@cerdd.test", "62041", ConflitInteret.Origine.DETECTE),
        ("jury3@cerdd.test", "200033579", ConflitInteret.Origine.DETECTE),
        ("jury5@cerdd.test", "59350", ConflitInteret.Origine.DECLARE),
    }
    declared = ConflitInteret.objects.get(origine=ConflitInteret.Origine.DECLARE)
    assert "budget participatif en 2020" in declared.motif
    in_conflict = ConflitInteret.objects.filter(
        candidature=OuterRef("candidature"), jure=OuterRef("jure")
    )
    assert not Evaluation.objects.filter(Exists(in_conflict)).exists()

    # Every juror scored what they can see, except the work left on purpose.
    jurors = {m.user.email: m.user for m in members}
    expected_left = {"jury6@cerdd.test": 3, "jury7@cerdd.test": 5}
    for email, juror in jurors.items():
        visible = Candidature.objects.for_juror(juror).filter(appel=appel)
        assert visible.count() == {"jury3@cerdd.test": 22, "jury5@cerdd.test": 23}.get(email, 24)
        evaluations = Evaluation.objects.filter(jure=juror)
        assert set(evaluations.values_list("candidature", flat=True)) <= set(
            visible.values_list("pk", flat=True)
        )
        drafts = evaluations.filter(statut=Evaluation.Statut.BROUILLON).count()
        assert drafts == (3 if email == "jury6@cerdd.test" else 0)
        not_started = visible.count() - evaluations.count()
        assert not_started == (5 if email == "jury7@cerdd.test" else 0)
    left = {juror.email: n for juror, n in services.jurors_with_work_left(appel)}
    assert left == expected_left

    submitted = Evaluation.objects.soumises().select_related("candidature__collectivite")
    assert submitted.count() == 22 + 23 + 24 * 5 - 3 - 5
    assert all(e.recommandation and e.submitted_at > appel.closes_at for e in submitted)
    assert all(e.submitted_at < appel.announcement_at for e in submitted)
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

    before = _snapshot()
    assert User.objects.get(email="jury6@cerdd.test").evaluations.count() == 24

    call_command("seed_demo")

    assert "5 à commencer (0 créées)" in capsys.readouterr().out
    assert _snapshot() == before
