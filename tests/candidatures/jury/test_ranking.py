"""Jury aggregates (candidatures.jury.ranking) on the hand-computed example of
ranking_helpers: the score of one évaluation, the ranking.
"""

import statistics

import pytest

from candidatures.jury import ranking
from candidatures.jury.progress import progress_matrix
from candidatures.models import Affectation, Appel, Collectivite, Evaluation, MembreJury
from tests.candidatures.jury.ranking_helpers import (
    bulk_dossiers,
    deposer,
    hand_example,
    make_appel,
    make_grid,
    member,
    rows_by_numero,
    score,
    submitted_counts,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# The score of one évaluation


def test_evaluation_score_weights_each_critere_and_scales_to_20():
    a = ranking.CritereInfo(pk=1, ordre=1, libelle="A", poids=1.0, note_max=4)
    b = ranking.CritereInfo(pk=2, ordre=2, libelle="B", poids=2.0, note_max=5)

    assert ranking.evaluation_score({1: 4, 2: 5}, [a, b]) == pytest.approx(20)
    assert ranking.evaluation_score({1: 3, 2: 3}, [a, b]) == pytest.approx(13)
    assert ranking.evaluation_score({1: 2, 2: 1}, [a, b]) == pytest.approx(6)
    # (1 · 1/4 + 2 · 4/5) / 3 · 20 = (5 + 32) / 3
    assert ranking.evaluation_score({1: 1, 2: 4}, [a, b]) == pytest.approx(37 / 3)
    assert ranking.evaluation_score({1: 0, 2: 0}, [a, b]) == 0
    # A critère without a value is left out of both sums: 3/4 of 20.
    assert ranking.evaluation_score({1: 3, 2: None}, [a, b]) == pytest.approx(15)
    assert ranking.evaluation_score({}, [a, b]) is None


def test_evaluation_score_accepts_model_criteres():
    appel = make_appel()
    one, two = make_grid(appel)

    assert ranking.evaluation_score({one.pk: 2, two.pk: 4}, [one, two]) == pytest.approx(14)


# ---------------------------------------------------------------------------------------------
# The ranking


def test_ranking_of_the_hand_computed_example():
    appel, _, _ = hand_example()

    result = ranking.build_ranking(appel)

    rows = rows_by_numero(result)
    expected = {
        # numero: (n, mean, median, stdev, min, max)
        "AMI-2021-001": (3, 13, 13, 7, 6, 20),
        "AMI-2021-002": (3, 13, 13, 1, 12, 14),
        "AMI-2021-003": (3, 6, 6, 6, 0, 12),
    }
    for numero, (n, mean, median, stdev, low, high) in expected.items():
        row = rows[numero]
        assert (row.n, row.min, row.max) == (n, pytest.approx(low), pytest.approx(high))
        assert row.mean == pytest.approx(mean)
        assert row.median == pytest.approx(median)
        assert row.stdev == pytest.approx(stdev)
    assert sorted(rows["AMI-2021-001"].scores) == pytest.approx([6, 13, 20])
    # Equal means and medians: the one the jury agrees on comes first, both ranked 1st.
    assert [(row.dossier.numero, row.rank) for row in result.rows] == [
        ("AMI-2021-002", 1),
        ("AMI-2021-001", 1),
        ("AMI-2021-003", 3),
    ]
    assert rows["AMI-2021-001"].critere_means == pytest.approx([3, 3])
    assert rows["AMI-2021-003"].critere_means == pytest.approx([2, 1])
    assert result.evaluations == 9
    assert result.overall_mean == pytest.approx(96 / 9)
    assert [c.libelle for c in result.criteres] == [
        "Dynamique de transition",
        "Motivation des élu·es",
    ]


def test_conflicted_jurors_evaluation_leaves_every_aggregate():
    appel, dossiers, jurors = hand_example()

    result = ranking.build_ranking(appel)

    d1 = rows_by_numero(result)["AMI-2021-001"]
    assert Evaluation.objects.filter(
        candidature=dossiers["d1"], jure=jurors["delta"], statut="soumise"
    ).exists()
    assert d1.n == 3
    assert d1.tally == {"retenir": 2, "attente": 1}
    assert not d1.disagreement_reasons[1:]  # no split: Delta's « ne pas retenir » is out
    delta = next(c for c in result.calibration if c.juror.pk == jurors["delta"].pk)
    assert (delta.n, delta.mean, delta.stdev) == (0, None, 0.0)
    # Distribution of A over the 9 counted notes: 0→1, 1→0, 2→3, 3→2, 4→3 (Delta's 0 is out).
    assert result.distributions[0].counts == [1, 0, 3, 2, 3]
    assert result.distributions[1].counts == [1, 2, 2, 2, 1, 1]
    assert result.distributions[0].mean == pytest.approx((0 + 6 + 6 + 12) / 9)


def test_tie_detected_but_not_in_the_register_also_leaves_the_aggregates():
    appel, dossiers, _ = hand_example()
    echo = member(appel, "Élodie", "Echo")
    score(dossiers["d1"], echo, 0, 0, "ne_pas_retenir")
    # Staff record afterwards that Echo belongs to the Métropole européenne de Lille.
    MembreJury.objects.filter(user=echo).update(
        collectivite=Collectivite.objects.get(siren="200093201")
    )

    d1 = rows_by_numero(ranking.build_ranking(appel))["AMI-2021-001"]

    assert (d1.n, d1.mean) == (3, pytest.approx(13))


def test_evaluation_of_a_deleted_assignment_leaves_the_ranking_as_the_matrix():
    appel, dossiers, jurors = hand_example()
    Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    appel.refresh_from_db()
    for dossier in dossiers.values():
        for name in ("alpha", "bravo", "charlie"):
            Affectation.objects.create(candidature=dossier, jure=jurors[name])
    # Staff take 001 away from Charlie after she scored it (6/20, « attente »).
    Affectation.objects.filter(candidature=dossiers["d1"], jure=jurors["charlie"]).delete()

    result = ranking.build_ranking(appel)
    matrix = progress_matrix(appel)

    d1 = rows_by_numero(result)["AMI-2021-001"]
    assert (d1.n, sorted(round(x, 6) for x in d1.scores)) == (2, [13.0, 20.0])
    assert (d1.tally, round(d1.mean, 6)) == ({"retenir": 2}, 16.5)
    assert result.evaluations == 8
    assert {row.dossier.numero: row.n for row in result.rows} == submitted_counts(matrix)
    assert submitted_counts(matrix) == {"AMI-2021-001": 2, "AMI-2021-002": 3, "AMI-2021-003": 3}
    charlie = next(c for c in result.calibration if c.juror.pk == jurors["charlie"].pk)
    assert charlie.n == 2


def test_evaluations_of_a_juror_removed_from_the_jury_leave_the_ranking():
    appel, _, jurors = hand_example()
    MembreJury.objects.filter(appel=appel, user=jurors["charlie"]).delete()

    result = ranking.build_ranking(appel)
    matrix = progress_matrix(appel)

    assert {row.dossier.numero: row.n for row in result.rows} == {
        "AMI-2021-001": 2,
        "AMI-2021-002": 2,
        "AMI-2021-003": 2,
    }
    assert {row.dossier.numero: row.n for row in result.rows} == submitted_counts(matrix)
    assert result.evaluations == 6
    assert [c.juror.name for c in result.calibration] == [
        "Anne Alpha",
        "Bruno Bravo",
        "Denis Delta",
    ]
    assert (
        round(rows_by_numero(result)["AMI-2021-003"].mean, 6) == 9.0
    )  # (6 + 12) / 2, Charlie's 0 out


def test_disagreement_by_spread_over_the_calls_threshold():
    appel, _, _ = hand_example()

    rows = rows_by_numero(ranking.build_ranking(appel))

    assert rows["AMI-2021-001"].disagreement is True
    assert rows["AMI-2021-001"].disagreement_reason == ("écart-type 7,00 supérieur au seuil de 6,5")
    # A spread of 6 is not over 6.5, and the three recommendations agree.
    assert rows["AMI-2021-003"].disagreement is False
    assert rows["AMI-2021-003"].disagreement_reasons == []


def test_disagreement_by_split_recommendations():
    appel, _, _ = hand_example()

    rows = rows_by_numero(ranking.build_ranking(appel))

    d2 = rows["AMI-2021-002"]
    assert d2.stdev == pytest.approx(1)
    assert d2.tally == {"retenir": 1, "attente": 1, "ne_pas_retenir": 1}
    assert d2.disagreement is True
    assert d2.disagreement_reason == "recommandations opposées (« retenir » et « ne pas retenir »)"


def test_lower_threshold_flags_both_reasons():
    appel, _, _ = hand_example()
    Appel.objects.filter(pk=appel.pk).update(seuil_desaccord="0.5")
    appel.refresh_from_db()

    d2 = rows_by_numero(ranking.build_ranking(appel))["AMI-2021-002"]

    assert d2.disagreement_reasons == [
        "écart-type 1,00 supérieur au seuil de 0,5",
        "recommandations opposées (« retenir » et « ne pas retenir »)",
    ]


def test_z_scores_cancel_each_jurors_severity():
    appel, _, _jurors = hand_example()

    result = ranking.build_ranking(appel)

    rows = rows_by_numero(result)
    # z = (score − juror's mean) / juror's sample spread, averaged over the dossier.
    assert rows["AMI-2021-001"].z_mean == pytest.approx((1 + 0 + 0) / 3)
    assert rows["AMI-2021-002"].z_mean == pytest.approx((0 + 1 + 1) / 3)
    assert rows["AMI-2021-003"].z_mean == pytest.approx((-1 - 1 - 1) / 3)
    assert [(row.dossier.numero, row.rank_z) for row in result.rows_by_z] == [
        ("AMI-2021-002", 1),
        ("AMI-2021-001", 2),
        ("AMI-2021-003", 3),
    ]
    calibration = {c.juror.name: c for c in result.calibration}
    assert list(calibration) == ["Anne Alpha", "Bruno Bravo", "Chloé Charlie", "Denis Delta"]
    for name, (n, mean, stdev, low, high) in {
        "Anne Alpha": (3, 13, 7, 6, 20),
        "Bruno Bravo": (3, 13, 1, 12, 14),
        "Chloé Charlie": (3, 6, 6, 0, 12),
    }.items():
        item = calibration[name]
        assert item.n == n
        assert (item.mean, item.stdev) == (pytest.approx(mean), pytest.approx(stdev))
        assert (item.min, item.max) == (pytest.approx(low), pytest.approx(high))
    assert calibration["Chloé Charlie"].gap == pytest.approx(6 - 96 / 9)
    assert statistics.stdev([6, 12, 0]) == pytest.approx(6)  # sample, not population (4,90)


def test_single_evaluation_has_zero_spread_and_no_z_information():
    appel = make_appel()
    make_grid(appel)
    dossier = deposer(appel, "59350", 1)
    alone = member(appel, "Anne", "Alpha")
    score(dossier, alone, 3, 3, "retenir")

    (row,) = ranking.build_ranking(appel).rows

    assert (row.n, row.mean, row.median, row.stdev, row.z_mean) == (1, 13, 13, 0.0, 0.0)
    assert row.disagreement is False


def test_unscored_dossiers_come_last_without_rank():
    appel, _, _ = hand_example()
    deposer(appel, "02408", 4)  # Laon, nobody scored it

    result = ranking.build_ranking(appel)

    last = result.rows[-1]
    assert (last.dossier.numero, last.n, last.mean, last.rank, last.rank_z) == (
        "AMI-2021-004",
        0,
        None,
        None,
        None,
    )


def test_ranking_runs_five_queries_whatever_the_size(django_assert_num_queries):
    appel, _, jurors = hand_example()
    with django_assert_num_queries(5):
        small = ranking.build_ranking(appel)
    bulk_dossiers(appel, 120, [jurors["alpha"], jurors["bravo"], jurors["charlie"]])

    with django_assert_num_queries(5):
        large = ranking.build_ranking(appel)

    assert (len(small.rows), len(large.rows)) == (3, 123)
    assert large.evaluations == 9 + 360
