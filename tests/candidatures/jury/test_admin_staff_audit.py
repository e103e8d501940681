"""The staff jury admin, audit fixes: who may sit on a jury, a grid frozen once scored,
history pages in French.
"""

from datetime import datetime

import pytest
import time_machine

from candidatures.decisions import services as decisions_services
from candidatures.models import Affectation, Appel, ConflitInteret, Evaluation
from cerdd_ami.formats import format_datetime_fr
from tests.candidatures.jury.admin_staff_helpers import (
    PARIS,
    allow_deleting_criteres,
    critere_url,
    history_rows,
    url,
)
from tests.candidatures.jury.ranking_helpers import deposer, make_appel, make_grid
from tests.factories import juror
from tests.utils import page_text

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Audit fixes: who may sit on a jury, a grid frozen once scored, history pages in French


def test_only_active_staff_in_the_jury_group_can_be_chosen_as_jurors(staff):
    from candidatures.jury.admin_appel import MembreJuryForm
    from candidatures.jury.admin_staff import AffectationForm, ConflitInteretForm

    juror(email="jure@cerdd.test")
    juror(email="partie@cerdd.test", is_active=False)
    # staff (charge@cerdd.test) is active staff but not in the « Jury » group.

    choices = {
        form.__name__: [user.email for user in form().fields[name].queryset]
        for form, name in (
            (MembreJuryForm, "user"),
            (AffectationForm, "jure"),
            (ConflitInteretForm, "jure"),
        )
    }

    assert choices == {
        "MembreJuryForm": ["jure@cerdd.test"],
        "AffectationForm": ["jure@cerdd.test"],
        "ConflitInteretForm": ["jure@cerdd.test"],
    }


def test_staff_outside_the_jury_group_cannot_be_assigned(staff_client, staff):
    appel = make_appel(mode_jury=Appel.ModeJury.AFFECTATION)
    make_grid(appel)
    arras = deposer(appel, "62041", 1)

    response = staff_client.post(
        "/admin/candidatures/affectation/add/", {"candidature": arras.pk, "jure": staff.pk}
    )

    assert response.status_code == 200
    assert Affectation.objects.count() == 0
    assert "Sélectionnez un choix valide." in page_text(response)


def test_a_scored_critere_keeps_its_scale_and_cannot_be_deleted(staff_client, staff, example):
    allow_deleting_criteres(staff)
    appel = example[0]
    critere = appel.criteres.get(ordre=1)  # scored out of 4
    niveau = critere.niveaux.create(note=2, description="Une démarche structurée.")

    page = staff_client.get(critere_url(critere))
    posted = staff_client.post(
        critere_url(critere),
        {
            "appel": appel.pk,
            "ordre": 1,
            "libelle": "Dynamique de transition (reformulé)",
            "description": "",
            "poids": "1",
            "note_max": "20",
            "niveaux-TOTAL_FORMS": "1",
            "niveaux-INITIAL_FORMS": "1",
            "niveaux-MIN_NUM_FORMS": "0",
            "niveaux-MAX_NUM_FORMS": "1000",
            "niveaux-0-id": niveau.pk,
            "niveaux-0-critere": critere.pk,
            "niveaux-0-note": "9",
            "niveaux-0-description": "Une démarche structurée et suivie.",
            "niveaux-0-DELETE": "on",
        },
    )
    delete_page = staff_client.get(critere_url(critere, "delete/"))
    bulk = staff_client.post(
        "/admin/candidatures/critere/",
        {"action": "delete_selected", "_selected_action": [critere.pk], "post": "yes"},
    )

    critere.refresh_from_db()
    niveau.refresh_from_db()
    text = " ".join(page_text(page).split())
    assert (
        "Des juré·es ont déjà noté ce critère : son appel, sa note maximale et les notes de ses "
        "niveaux ne peuvent plus changer, et il ne peut plus être supprimé" in text
    )
    assert 'name="note_max"' not in page.content.decode()
    assert 'name="niveaux-0-note"' not in page.content.decode()
    assert 'name="niveaux-0-DELETE"' not in page.content.decode()
    assert posted.status_code == 302
    assert (critere.libelle, critere.note_max, critere.appel_id) == (
        "Dynamique de transition (reformulé)",
        4,
        appel.pk,
    )
    assert (niveau.note, niveau.description) == (2, "Une démarche structurée et suivie.")
    assert delete_page.status_code == 403
    assert bulk.status_code == 200
    assert appel.criteres.filter(pk=critere.pk).exists()


def test_an_unscored_critere_stays_fully_editable(staff_client, staff):
    allow_deleting_criteres(staff)
    appel = make_appel()
    critere, _ = make_grid(appel)

    page = staff_client.get(critere_url(critere))
    delete_page = staff_client.get(critere_url(critere, "delete/"))

    assert 'name="note_max"' in page.content.decode()
    assert "Des juré·es ont déjà noté" not in page_text(page)
    assert delete_page.status_code == 200


def test_history_pages_are_in_french_without_none(staff_client, example, staff):
    from candidatures.models import Decision, Issue

    _, dossiers, jurors = example
    evaluation = Evaluation.objects.get(candidature=dossiers["d1"], jure=jurors["alpha"])
    decisions_services.decide(
        candidature=dossiers["d1"],
        issue=Issue.RETENUE,
        motivation="Une dynamique portée par les élu·es.",
        staff_user=staff,
    )
    decision = Decision.objects.get()

    pages = {
        "évaluation": staff_client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/history/"),
        "décision": staff_client.get(f"/admin/candidatures/decision/{decision.pk}/history/"),
    }

    for name, response in pages.items():
        text = page_text(response)
        rows = history_rows(response)
        assert response.status_code == 200, name
        assert rows[0] == [
            "Objet",
            "Date",
            "Commentaire",
            "Modifié par",
            "Motif",
            "Modifications",
        ], name
        assert "Changes" not in text, name
        assert "None" not in " ".join(cell for row in rows for cell in row), name
    evaluation_rows = history_rows(pages["évaluation"])
    record = evaluation.history.earliest("history_date")
    assert evaluation_rows[-1][1:] == [
        format_datetime_fr(record.history_date),
        "Création",
        "—",
        "—",
        "—",
    ]
    assert "<h1>Historique : " in page_text(pages["évaluation"])
    assert "<h1>Historique : " in page_text(pages["décision"])


def test_jure_filters_are_titled_jure(staff_client, example):
    response = staff_client.get("/admin/candidatures/evaluation/")

    text = " ".join(page_text(response).split())
    assert response.status_code == 200
    assert "Par juré·e" in text
    assert "Par jure " not in text
    assert [
        str(model._meta.get_field("jure").verbose_name)
        for model in (Evaluation, ConflitInteret, Affectation)
    ] == ["juré·e", "juré·e", "juré·e"]


def test_empty_ranking_row_spans_every_column(staff_client):
    from candidatures.models import Critere

    appel = make_appel()
    for ordre in range(1, 5):
        Critere.objects.create(appel=appel, ordre=ordre, libelle=f"Critère {ordre}", note_max=4)

    page = staff_client.get(url(appel, "classement/"))

    content = page.content.decode()
    table = content[content.index('id="tableau-classement"') :]
    table = table[: table.index("</table>")]
    header = table[: table.index("</thead>")]
    assert header.count("<th ") == 7
    assert '<td colspan="7">Aucun dossier déposé pour l\'instant.</td>' in table


@pytest.mark.parametrize(
    ("now", "filename"),
    [
        # The call named by this year is named once, by the date.
        (datetime(2021, 3, 20, 9, 5, tzinfo=PARIS), "classement-2021-03-20-09h05.csv"),
        (datetime(2026, 12, 6, 8, 0, tzinfo=PARIS), "classement-2021-2026-12-06-08h00.csv"),
    ],
)
def test_ranking_export_file_name_says_the_year_once(staff_client, example, now, filename):
    with time_machine.travel(now, tick=False):
        response = staff_client.get(url(example[0], "classement.csv"))

    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
