"""Jury aggregates (candidatures.jury.ranking) on a hand-computed example.

The grid has two critères: A weighs 1 and is scored out of 4, B weighs 2 and is scored out of
5, so an évaluation scores (1·a/4 + 2·b/5) / 3 · 20 = (5a + 8b) / 3 on /20. Three jurors score
three dossiers so that each juror's scores are m − d, m, m + d (mean m, sample spread d):

    dossier   Alpha (m 13, d 7)   Bravo (m 13, d 1)   Charlie (m 6, d 6)   mean  median  sd
    001 Lille   20 (4,5) retenir    13 (3,3) retenir    6 (2,1) attente      13    13     7
    002 Amiens  13 (3,3) retenir    14 (2,4) attente   12 (4,2) ne pas ret.  13    13     1
    003 Beauv.   6 (2,1) ne pas r.  12 (4,2) ne pas r.  0 (0,0) ne pas ret.   6     6     6

Delta scored 001 with 0 and « ne pas retenir », then declared a conflict: that évaluation
must leave every aggregate (mean, tally, calibration, distribution).
"""

import statistics
import zoneinfo
from datetime import datetime

import pytest
from django.db.models import Q

from candidatures.jury import ranking, tables
from candidatures.jury import services as jury_services
from candidatures.jury.progress import progress_matrix
from candidatures.models import (
    Affectation,
    Appel,
    Candidature,
    Collectivite,
    Critere,
    Evaluation,
    MembreJury,
    Note,
)
from tests.candidatures.factories import AppelFactory, CritereFactory, numbered
from tests.factories import juror

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
SUBMITTED_AT = datetime(2021, 3, 1, 10, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Jurors are created by the dozen here and never sign in with a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# ---------------------------------------------------------------------------------------------
# Helpers shared with test_admin_staff


def make_appel(**kwargs):
    """The 2021 edition: closed on 12 March 2021, so scoring is open now."""
    kwargs.setdefault("slug", "2021")
    kwargs.setdefault("seuil_desaccord", "6.5")
    return AppelFactory(edition_2021=True, **kwargs)


def make_grid(appel):
    return (
        CritereFactory(
            appel=appel, ordre=1, libelle="Dynamique de transition", poids=1, note_max=4
        ),
        CritereFactory(appel=appel, ordre=2, libelle="Motivation des élu·es", poids=2, note_max=5),
    )


def deposer(appel, code, number):
    lookup = {"siren": code} if len(code) == 9 else {"insee": code}
    return Candidature.objects.create(
        appel=appel,
        collectivite=Collectivite.objects.get(**lookup),
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, number),
        deposee_at=SUBMITTED_AT,
    )


def member(appel, first_name, last_name, collectivite=None, qualite=""):
    user = juror(
        first_name=first_name,
        last_name=last_name,
        email=f"{first_name.lower()}.{last_name.lower()}@jury.test",
    )
    MembreJury.objects.create(appel=appel, user=user, collectivite=collectivite, qualite=qualite)
    return user


def score(dossier, jure, a, b, recommandation="", *, submit=True):
    one, two = dossier.appel.criteres.order_by("ordre")
    return jury_services.save_evaluation(
        candidature=dossier,
        jure=jure,
        notes={one: (a, f"A vaut {a}"), two: (b, "")},
        recommandation=recommandation,
        commentaire_prive="Note pour le jury.",
        submit=submit,
    )


def hand_example():
    """The call of the module docstring; returns (appel, dossiers, jurors) by short names."""
    appel = make_appel()
    make_grid(appel)
    d1 = deposer(appel, "59350", 1)  # Lille
    d2 = deposer(appel, "80021", 2)  # Amiens
    d3 = deposer(appel, "60057", 3)  # Beauvais
    alpha = member(appel, "Anne", "Alpha", qualite="Élue régionale")
    bravo = member(appel, "Bruno", "Bravo")
    charlie = member(appel, "Chloé", "Charlie")
    delta = member(appel, "Denis", "Delta")
    for dossier, scores in (
        (d1, [(4, 5, "retenir"), (3, 3, "retenir"), (2, 1, "attente")]),
        (d2, [(3, 3, "retenir"), (2, 4, "attente"), (4, 2, "ne_pas_retenir")]),
        (d3, [(2, 1, "ne_pas_retenir"), (4, 2, "ne_pas_retenir"), (0, 0, "ne_pas_retenir")]),
    ):
        for jure, (a, b, recommandation) in zip((alpha, bravo, charlie), scores, strict=True):
            score(dossier, jure, a, b, recommandation)
    score(d1, delta, 0, 0, "ne_pas_retenir")
    jury_services.declare_conflict(
        candidature=d1, jure=delta, motif="Mon conjoint travaille à Lille."
    )
    score(d2, delta, 1, None, submit=False)  # a draft: never counted
    return (
        appel,
        {"d1": d1, "d2": d2, "d3": d3},
        {"alpha": alpha, "bravo": bravo, "charlie": charlie, "delta": delta},
    )


def bulk_dossiers(appel, count, jurors, *, start=100):
    """``count`` more submitted dossiers, each scored and submitted by every juror in
    ``jurors`` (bulk inserts: no history, no service, just rows for the query counts)."""
    criteres = list(appel.criteres.order_by("ordre"))
    taken = Candidature.objects.filter(appel=appel).values("collectivite")
    communes = list(
        Collectivite.objects.filter(nature=Collectivite.Nature.COMMUNE, active=True)
        .exclude(pk__in=taken)
        .exclude(Q(epci__isnull=True))
        .order_by("insee")[:count]
    )
    dossiers = Candidature.objects.bulk_create(
        [
            Candidature(
                appel=appel,
                collectivite=commune,
                statut=Candidature.Statut.DEPOSEE,
                numero=numbered(appel, start + i),
                deposee_at=SUBMITTED_AT,
            )
            for i, commune in enumerate(communes)
        ]
    )
    evaluations = Evaluation.objects.bulk_create(
        [
            Evaluation(
                candidature=dossier,
                jure=jure,
                statut=Evaluation.Statut.SOUMISE,
                submitted_at=SUBMITTED_AT,
                recommandation=("retenir", "attente", "ne_pas_retenir")[(i + j) % 3],
            )
            for i, dossier in enumerate(dossiers)
            for j, jure in enumerate(jurors)
        ]
    )
    Note.objects.bulk_create(
        [
            Note(evaluation=evaluation, critere=critere, valeur=(i + k) % (critere.note_max + 1))
            for i, evaluation in enumerate(evaluations)
            for k, critere in enumerate(criteres)
        ]
    )
    return dossiers


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


def rows_by_numero(result):
    return {row.dossier.numero: row for row in result.rows}


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


def submitted_counts(matrix) -> dict[str, int]:
    return {row.dossier.numero: row.cells.count("soumise") for row in matrix.rows}


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


# ---------------------------------------------------------------------------------------------
# The progress matrix


def test_progress_matrix_statuses_including_conflicts():
    appel, dossiers, jurors = hand_example()
    d4 = deposer(appel, "62041", 4)  # Arras
    # Foxtrot belongs to the CU d'Arras: a tie detected with Arras, not yet in the register.
    foxtrot = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )
    score(dossiers["d2"], foxtrot, 1, 1, submit=False)

    matrix = progress_matrix(appel)

    assert [p.juror.name for p in matrix.jurors] == [
        "Anne Alpha",
        "Bruno Bravo",
        "Chloé Charlie",
        "Denis Delta",
        "Fanny Foxtrot",
    ]
    table = {row.dossier.numero: row.cells for row in matrix.rows}
    assert table == {
        "AMI-2021-001": ["soumise", "soumise", "soumise", "conflit", "a_faire"],
        "AMI-2021-002": ["soumise", "soumise", "soumise", "brouillon", "brouillon"],
        "AMI-2021-003": ["soumise", "soumise", "soumise", "a_faire", "a_faire"],
        "AMI-2021-004": ["a_faire", "a_faire", "a_faire", "a_faire", "conflit"],
    }
    assert matrix.status(jurors["delta"].pk, dossiers["d1"].pk) == "conflit"
    assert matrix.status(foxtrot.pk, d4.pk) == "conflit"
    left = {p.juror.name: (p.expected, p.submitted, p.left) for p in matrix.jurors}
    assert left == {
        "Anne Alpha": (4, 3, 1),
        "Bruno Bravo": (4, 3, 1),
        "Chloé Charlie": (4, 3, 1),
        "Denis Delta": (3, 0, 3),
        "Fanny Foxtrot": (3, 0, 3),
    }


def test_progress_matrix_agrees_with_for_juror_and_the_reminder_service():
    appel, dossiers, jurors = hand_example()
    Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    appel.refresh_from_db()
    deposer(appel, "62041", 4)
    foxtrot = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )
    for jure in (jurors["alpha"], jurors["bravo"], foxtrot):
        Affectation.objects.create(candidature=dossiers["d3"], jure=jure)
    Affectation.objects.create(candidature=dossiers["d1"], jure=jurors["delta"])

    matrix = progress_matrix(appel)

    visible_statuses = {"a_faire", "brouillon", "soumise"}
    for column, progress in enumerate(matrix.jurors):
        from_matrix = {
            row.dossier.pk for row in matrix.rows if row.cells[column] in visible_statuses
        }
        from_queryset = set(
            Candidature.objects.for_juror(
                next(j for j in [*jurors.values(), foxtrot] if j.pk == progress.juror.pk)
            ).values_list("pk", flat=True)
        )
        assert from_matrix == from_queryset, progress.juror.name
    assert [row.cells for row in matrix.rows if row.dossier.numero == "AMI-2021-003"] == [
        ["soumise", "soumise", "non_affecte", "non_affecte", "a_faire"]
    ]
    assert {(p.juror.pk, p.left) for p in matrix.with_work_left} == {
        (user.pk, left) for user, left in jury_services.jurors_with_work_left(appel)
    }


def test_progress_matrix_runs_a_fixed_number_of_queries(django_assert_num_queries):
    appel, _, jurors = hand_example()
    Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    appel.refresh_from_db()
    with django_assert_num_queries(5):
        progress_matrix(appel)
    bulk_dossiers(appel, 120, [jurors["alpha"]])

    with django_assert_num_queries(5):
        matrix = progress_matrix(appel)

    assert len(matrix.rows) == 123


# ---------------------------------------------------------------------------------------------
# Export tables


def test_ranking_table_headers_and_row():
    appel, _, _ = hand_example()

    headers, rows = tables.ranking_table(ranking.build_ranking(appel))

    assert headers == [
        "Rang",
        "Rang (scores z)",
        "Numéro",
        "Collectivité",
        "Nature",
        "Département",
        "Évaluations prises en compte",
        "Moyenne pondérée (/20)",
        "Médiane (/20)",
        "Écart-type (/20)",
        "Minimum (/20)",
        "Maximum (/20)",
        "Score z moyen",
        "Moyenne « Dynamique de transition » (/4, poids 1)",
        "Moyenne « Motivation des élu·es » (/5, poids 2)",
        "Recommandation « Retenir »",
        "Recommandation « Liste d'attente »",
        "Recommandation « Ne pas retenir »",
        "Désaccord",
        "Motif du désaccord",
    ]
    assert rows[1] == [
        1,
        2,
        "AMI-2021-001",
        "Lille",
        "Commune",
        "59",
        3,
        13.0,
        13.0,
        7.0,
        6.0,
        20.0,
        0.333,
        3.0,
        3.0,
        2,
        1,
        0,
        "oui",
        "écart-type 7,00 supérieur au seuil de 6,5",
    ]


def test_scores_table_lists_every_evaluation_and_why_one_is_left_out():
    appel, _, _ = hand_example()

    headers, rows = tables.scores_table(appel)

    assert headers[:8] == [
        "Numéro",
        "Collectivité",
        "Juré·e",
        "E-mail du ou de la juré·e",
        "Statut",
        "Soumise le",
        "Modifiée le",
        "Prise en compte",
    ]
    assert headers[8:] == [
        "1. Dynamique de transition (/4, poids 1)",
        "1. Commentaire",
        "2. Motivation des élu·es (/5, poids 2)",
        "2. Commentaire",
        "Score pondéré (/20)",
        "Recommandation",
        "Commentaire pour le jury",
        "Retour pour la collectivité",
    ]
    assert len(rows) == 11  # 9 counted, Delta's conflicted one, Delta's draft
    delta = [row for row in rows if row[2] == "Denis Delta"]
    assert [(row[0], row[4], row[7], row[12]) for row in delta] == [
        ("AMI-2021-001", "Soumise", "non : conflit d'intérêts", 0.0),
        ("AMI-2021-002", "Brouillon", "non : brouillon", 5.0),  # A alone: 1/4 of 20
    ]
    first = rows[0]
    assert first[:5] == ["AMI-2021-001", "Lille", "Anne Alpha", "anne.alpha@jury.test", "Soumise"]
    assert first[7:] == [
        "oui",
        4,
        "A vaut 4",
        5,
        "",
        20.0,
        "Retenir",
        "Note pour le jury.",
        "",
    ]


def test_criteres_added_after_scoring_do_not_break_the_scale():
    appel, _, _ = hand_example()
    Critere.objects.create(appel=appel, ordre=3, libelle="Ajouté tard", poids=5, note_max=4)

    rows = rows_by_numero(ranking.build_ranking(appel))

    assert rows["AMI-2021-001"].mean == pytest.approx(13)
    assert rows["AMI-2021-001"].critere_means == [pytest.approx(3), pytest.approx(3), None]
