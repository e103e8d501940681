"""Jury aggregates (candidatures.jury.ranking): the progress matrix and the export tables."""

import pytest

from candidatures.jury import ranking, tables
from candidatures.jury import services as jury_services
from candidatures.jury.progress import progress_matrix
from candidatures.models import Affectation, Appel, Candidature, Collectivite, Critere
from tests.candidatures.jury.ranking_helpers import (
    bulk_dossiers,
    deposer,
    hand_example,
    member,
    rows_by_numero,
    score,
)

pytestmark = pytest.mark.django_db


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
