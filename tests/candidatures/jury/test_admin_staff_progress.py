"""The staff jury dashboard: the progress page, its actions, and its queries for 3 and 300
dossiers (data: the hand-computed example of ranking_helpers).
"""

import pytest
from django.core import mail

from candidatures.models import (
    Affectation,
    Appel,
    Collectivite,
    ConflitInteret,
    MembreJury,
    RappelJury,
)
from cerdd_ami.formats import format_datetime_fr
from tests.candidatures.jury.admin_staff_helpers import _queries, messages_of, tables, url
from tests.candidatures.jury.ranking_helpers import (
    bulk_dossiers,
    deposer,
    make_appel,
    make_grid,
    member,
)
from tests.utils import page_text

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Progress page and actions


def test_progress_page_shows_the_matrix_with_conflicts(staff_client, example):
    appel, _, _ = example
    deposer(appel, "62041", 4)  # Arras
    member(appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579"))

    response = staff_client.get(url(appel, "jury/"))

    assert response.status_code == 200
    found = tables(response)
    assert found["matrice-avancement"] == [
        [
            "Dossier",
            "Collectivité",
            "Soumises",
            "Anne Alpha",
            "Bruno Bravo",
            "Chloé Charlie",
            "Denis Delta",
            "Fanny Foxtrot",
        ],
        [
            "AMI-2021-001",
            "Lille",
            "3 / 4",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "⊘ Conflit d'intérêts",
            "○ À faire",
        ],
        [
            "AMI-2021-002",
            "Amiens",
            "3 / 5",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "◐ Brouillon",
            "○ À faire",
        ],
        [
            "AMI-2021-003",
            "Beauvais",
            "3 / 5",
            "● Soumise",
            "● Soumise",
            "● Soumise",
            "○ À faire",
            "○ À faire",
        ],
        [
            "AMI-2021-004",
            "Arras",
            "0 / 4",
            "○ À faire",
            "○ À faire",
            "○ À faire",
            "○ À faire",
            "⊘ Conflit d'intérêts",
        ],
    ]
    assert found["avancement-jures"][1:] == [
        ["Anne Alpha", "Élue régionale", "4", "3", "0", "1", "1", "0"],
        ["Bruno Bravo", "—", "4", "3", "0", "1", "1", "0"],
        ["Chloé Charlie", "—", "4", "3", "0", "1", "1", "0"],
        ["Denis Delta", "—", "3", "0", "1", "2", "3", "1"],
        ["Fanny Foxtrot", "—", "3", "0", "0", "3", "3", "1"],
    ]
    assert "Juré·es à relancer : Anne Alpha (1), Bruno Bravo (1), Chloé Charlie (1), " in (
        page_text(response)
    )


def test_reminders_go_exactly_to_the_jurors_with_work_left(
    staff_client, example, django_capture_on_commit_callbacks
):
    appel, _, _jurors = example

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(appel, "jury/"), {"action": "rappels"}, follow=True)

    # Alpha, Bravo and Charlie have submitted everything; Delta has 002 (draft) and 003 left.
    assert [message.to for message in mail.outbox] == [["denis.delta@jury.test"]]
    assert mail.outbox[0].subject == (
        "Jury « Vers des territoires participatifs en Hauts-de-France » : 2 dossiers à évaluer"
    )
    assert messages_of(response) == [
        "Rappel envoyé à 1 juré·e qui a encore des dossiers à évaluer."
    ]
    assert response.redirect_chain == [(url(appel, "jury/"), 302)]


def test_reminders_with_nobody_left_send_nothing(
    staff_client, example, django_capture_on_commit_callbacks
):
    appel, _dossiers, jurors = example
    MembreJury.objects.filter(user=jurors["delta"]).delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url(appel, "jury/"), {"action": "rappels"}, follow=True)

    assert mail.outbox == []
    assert messages_of(response) == [
        "Aucun·e juré·e n'a de dossier en attente : aucun rappel envoyé."
    ]


def test_auto_assignment_is_balanced_and_avoids_conflicts(staff_client):
    appel = make_appel(mode_jury=Appel.ModeJury.AFFECTATION, jures_par_dossier=2)
    make_grid(appel)
    codes = ["62041", "200033579", "59350", "80021", "60057", "02408", "59183"]
    dossiers = [deposer(appel, code, number) for number, code in enumerate(codes, start=1)]
    arras_tied = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )
    jurors = [arras_tied] + [member(appel, name, "Jury") for name in ("Anne", "Bruno", "Chloé")]
    ConflitInteret.objects.create(
        candidature=dossiers[2], jure=jurors[1], origine="declare", motif="Ancienne élue."
    )

    response = staff_client.post(url(appel, "jury/"), {"action": "affecter"}, follow=True)

    pairs = set(Affectation.objects.values_list("candidature", "jure"))
    per_dossier = {d.pk: sum(1 for c, _ in pairs if c == d.pk) for d in dossiers}
    loads = [sum(1 for _, j in pairs if j == jure.pk) for jure in jurors]
    conflicts = set(ConflitInteret.objects.values_list("candidature", "jure"))
    assert set(per_dossier.values()) == {2}
    assert max(loads) - min(loads) <= 1
    assert sum(loads) == 14
    assert not pairs & conflicts
    assert (dossiers[0].pk, arras_tied.pk) in conflicts  # detected, recorded by the service
    assert (dossiers[1].pk, arras_tied.pk) in conflicts
    assert messages_of(response) == [
        "14 affectations créées (2 juré·es par dossier, charge équilibrée, jamais un·e juré·e "
        "en conflit d'intérêts)."
    ]


def test_auto_assignment_is_refused_when_every_juror_scores_everything(staff_client, example):
    appel = example[0]

    response = staff_client.post(url(appel, "jury/"), {"action": "affecter"}, follow=True)

    assert Affectation.objects.count() == 0
    assert messages_of(response) == [
        "Cet appel fait évaluer chaque dossier par chaque juré·e : choisissez « Chaque dossier "
        "est affecté à quelques juré·es » dans la fiche de l'appel avant d'affecter les dossiers."
    ]


def test_close_reopen_scoring_and_open_deliberation(staff_client, example):
    appel = example[0]

    closed = staff_client.post(url(appel, "jury/"), {"action": "clore"}, follow=True)
    appel.refresh_from_db()
    closed_at = appel.notation_close_at
    reopened = staff_client.post(url(appel, "jury/"), {"action": "rouvrir"}, follow=True)
    appel.refresh_from_db()
    reopened_at = appel.notation_close_at
    too_early = staff_client.post(url(appel, "jury/"), {"action": "deliberation"}, follow=True)
    appel.refresh_from_db()
    deliberation_while_scoring = appel.deliberation_ouverte_at
    staff_client.post(url(appel, "jury/"), {"action": "clore"}, follow=True)
    deliberation = staff_client.post(url(appel, "jury/"), {"action": "deliberation"}, follow=True)
    too_late = staff_client.post(url(appel, "jury/"), {"action": "rouvrir"}, follow=True)
    appel.refresh_from_db()

    assert closed_at is not None
    assert reopened_at is None
    assert deliberation_while_scoring is None
    assert messages_of(too_early) == [
        "Clôturez d'abord la notation : tant qu'elle est ouverte, un·e juré·e pourrait lire "
        "les évaluations de ses collègues avant de rendre la sienne."
    ]
    assert messages_of(too_late) == [
        "La délibération est ouverte : les juré·es ont lu les évaluations de leurs "
        "collègues, la notation ne peut plus être rouverte."
    ]
    assert appel.notation_close_at is not None
    assert appel.deliberation_ouverte_at is not None
    assert messages_of(closed) == [
        "La notation est close : les évaluations ne peuvent plus être modifiées."
    ]
    assert messages_of(reopened) == [
        "La notation est rouverte : les juré·es peuvent de nouveau modifier leurs évaluations."
    ]
    assert messages_of(deliberation) == [
        "La délibération est ouverte : sur chaque dossier qu'ils et elles peuvent voir, les "
        "juré·es voient désormais les évaluations de leurs collègues (le classement reste "
        "réservé à l'équipe du Cerdd)."
    ]
    jury_page = page_text(staff_client.get(url(appel, "jury/")))
    assert "les résultats" not in jury_page
    assert "Délibération ouverte le " in page_text(deliberation).replace("</dt><dd>", " ")


def test_refresh_conflicts_action_fills_the_register(staff_client, example):
    appel = example[0]
    deposer(appel, "62041", 4)
    foxtrot = member(
        appel, "Fanny", "Foxtrot", collectivite=Collectivite.objects.get(siren="200033579")
    )

    response = staff_client.post(url(appel, "jury/"), {"action": "conflits"}, follow=True)

    assert ConflitInteret.objects.filter(jure=foxtrot, origine="detecte").count() == 1
    assert messages_of(response) == [
        "Registre des conflits d'intérêts à jour : 1 conflit détecté ajouté."
    ]


def test_unknown_action_changes_nothing(staff_client, example):
    appel = example[0]

    response = staff_client.post(url(appel, "jury/"), {"action": "tout-effacer"}, follow=True)

    assert messages_of(response) == ["Action inconnue."]


# ---------------------------------------------------------------------------------------------
# Same number of queries for 3 and 300 dossiers


@pytest.mark.parametrize("page", ["classement/", "jury/"])
def test_dashboard_pages_run_the_same_queries_for_3_and_300_dossiers(
    staff_client, example, page, django_assert_num_queries
):
    appel, _, jurors = example
    if page == "jury/":
        Appel.objects.filter(pk=appel.pk).update(mode_jury=Appel.ModeJury.AFFECTATION)
    small = _queries(staff_client, url(appel, page))
    assert 5 < small < 20  # the aggregates' 5, plus session, user, permissions, the call
    bulk_dossiers(appel, 297, [jurors["alpha"], jurors["bravo"], jurors["charlie"]])

    with django_assert_num_queries(small):
        response = staff_client.get(url(appel, page))

    assert response.status_code == 200
    assert "AMI-2021-396" in response.content.decode()


def test_reminders_are_listed_for_staff_with_their_fate(
    client, staff_client, example, django_capture_on_commit_callbacks
):
    appel, _dossiers, jurors = example
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url(appel, "jury/"), {"action": "rappels"})
    rappel = RappelJury.objects.get()

    response = staff_client.get("/admin/candidatures/rappeljury/")

    assert tables(response)["result_list"] == [
        [
            "Destinataire",
            "Dossiers restant à évaluer",
            "Demandé le",
            "Statut",
            "Envoyé le",
            "Erreur",
        ],
        [
            "denis.delta@jury.test",
            "2",
            format_datetime_fr(rappel.created_at),
            "Envoyé",
            format_datetime_fr(rappel.envoye_at),
            "-",
        ],
    ]
    client.force_login(jurors["delta"])
    assert client.get("/admin/candidatures/rappeljury/").status_code == 403
    client.logout()
    assert client.get("/admin/candidatures/rappeljury/").headers["Location"] == (
        "/admin/login/?next=/admin/candidatures/rappeljury/"
    )
