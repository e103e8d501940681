"""The juror's side of the admin: the évaluation form, conflicts declared by the juror,
independence until the deliberation opens.
"""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from candidatures.jury import services as jury_services
from candidatures.jury.forms import EvaluationForm
from candidatures.models import (
    Candidature,
    ConflitInteret,
    Evaluation,
    MembreJury,
    Note,
    Recommandation,
)
from tests.candidatures.jury.admin_jurors_helpers import (
    GRILLE,
    LIST_URL,
    commune,
    criteres_of,
    deporter_url,
    deposee,
    dossier_url,
    evaluer_url,
    jure,
    login,
    make_appel,
    messages_of,
    notes_in_db,
    result_rows,
    scores_post,
    text_of,
)
from tests.factories import charge_de_mission
from tests.utils import page_text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roles")]


@pytest.fixture
def appel():
    return make_appel(slug="2021")


# ---------------------------------------------------------------------------------------------
# The évaluation form


def test_form_shows_each_levels_guidance_beside_its_score(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.get(evaluer_url(dossier))

    assert response.status_code == 200
    content = response.content.decode()
    text = text_of(response)
    assert "État de mon évaluation : Non commencée" in text
    for critere, (libelle, note_max, niveaux) in zip(criteres_of(appel), GRILLE, strict=True):
        assert f"{libelle} (note de 0 à {note_max}, coefficient 1)" in text
        for note, guidance in enumerate(niveaux):
            label = f"{note} — {guidance}" if guidance else f"{note}"
            name = f"note_{critere.pk}"
            radio = re.search(
                rf'<label for="id_{name}_{note}">'
                rf'<input type="radio" name="{name}" value="{note}"[^>]*>\s*(.*?)</label>',
                content,
                re.S,
            )
            assert radio is not None, label
            assert html.unescape(radio.group(1)).strip() == label
        assert f'name="note_{critere.pk}" value="{note_max + 1}"' not in content
        assert f'name="commentaire_{critere.pk}"' in content
    for label in ["Retenir", "Liste d'attente", "Ne pas retenir"]:
        assert label in text
    assert 'name="commentaire_prive"' in content
    assert 'name="retour_collectivite"' in content
    assert 'value="Enregistrer le brouillon"' in content
    assert 'value="Soumettre l\'évaluation"' in html.unescape(content)


def test_draft_then_submit_records_the_evaluation(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [3, None, 2], commentaire_prive="À revoir en séance."),
    )

    assert response.status_code == 302
    assert response.headers["Location"] == evaluer_url(dossier)
    assert messages_of(response) == [
        "Brouillon enregistré. Vous pourrez le reprendre puis le soumettre jusqu'à la clôture "
        "de la notation."
    ]
    evaluation = Evaluation.objects.get(candidature=dossier, jure=user)
    assert (evaluation.statut, evaluation.submitted_at, evaluation.recommandation) == (
        Evaluation.Statut.BROUILLON,
        None,
        "",
    )
    assert evaluation.commentaire_prive == "À revoir en séance."
    assert notes_in_db(evaluation) == [
        (1, 3, "Commentaire sur collectivité engagée dans une dynamique de transition."),
        (2, None, "Commentaire sur motivation, détermination et humilité."),
        (3, 2, "Commentaire sur présence garantie d'un binôme élu·e / technicien·ne."),
    ]
    page = client.get(evaluer_url(dossier))
    assert "État de mon évaluation : Brouillon (enregistré le" in text_of(page)
    first = criteres_of(appel)[0]
    assert re.search(
        rf'<input type="radio" name="note_{first.pk}" value="3"[^>]*checked', page.content.decode()
    )
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-001 | Arras | 62 | Commune | Brouillon | Évaluer"
    ]

    before = timezone.now()
    response = client.post(
        evaluer_url(dossier),
        scores_post(
            appel,
            [3, 4, 2],
            button="soumettre",
            recommandation=Recommandation.RETENIR,
            retour_collectivite="Une démarche sincère et structurée.",
            commentaire_prive="À revoir en séance.",
        ),
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Votre évaluation est soumise. Merci !"]
    evaluation.refresh_from_db()
    assert evaluation.statut == Evaluation.Statut.SOUMISE
    assert before <= evaluation.submitted_at <= timezone.now()
    assert evaluation.recommandation == Recommandation.RETENIR
    assert evaluation.retour_collectivite == "Une démarche sincère et structurée."
    assert [(ordre, valeur) for ordre, valeur, _ in notes_in_db(evaluation)] == [
        (1, 3),
        (2, 4),
        (3, 2),
    ]
    assert Evaluation.objects.count() == 1
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-001 | Arras | 62 | Commune | Soumise | Évaluer"
    ]
    assert "Mon évaluation : Soumise le" in text_of(client.get(dossier_url(dossier)))


def test_submitted_evaluation_stays_editable_and_complete(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=user,
        notes=dict.fromkeys(criteres_of(appel), (2, "")),
        recommandation=Recommandation.LISTE_ATTENTE,
        submit=True,
    )
    submitted_at = Evaluation.objects.get().submitted_at
    login(client, user)
    page = client.get(evaluer_url(dossier))
    assert 'value="Enregistrer les modifications"' in page.content.decode()

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [4, 2, 2], button="soumettre", recommandation="retenir"),
    )

    assert messages_of(response) == ["Votre évaluation soumise a été mise à jour."]
    evaluation = Evaluation.objects.get()
    assert (evaluation.statut, evaluation.submitted_at) == (Evaluation.Statut.SOUMISE, submitted_at)
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [4, 2, 2]
    assert evaluation.recommandation == Recommandation.RETENIR

    # Blanking a score of a submitted évaluation, even through the draft button, is refused.
    response = client.post(evaluer_url(dossier), scores_post(appel, [4, None, 2]))

    assert response.status_code == 200
    assert "Notez chaque critère avant de soumettre : Motivation, détermination et humilité." in (
        text_of(response)
    )
    assert [valeur for _, valeur, _ in notes_in_db(Evaluation.objects.get())] == [4, 2, 2]


def test_score_outside_the_scale_is_refused_in_french(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [9, 2, 2], button="soumettre", recommandation="retenir"),
    )

    assert response.status_code == 200
    text = text_of(response)
    assert "L'évaluation n'a pas été enregistrée" in text
    assert "Choisissez une note entre 0 et 4." in text
    assert not Evaluation.objects.exists()
    assert not Note.objects.exists()
    # What the juror typed stays in the form.
    assert "Commentaire sur présence garantie d'un binôme élu·e / technicien·ne." in text


def test_unknown_recommendation_is_refused(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    login(client, jure(appel, "jure@cerdd.test"))

    response = client.post(evaluer_url(dossier), scores_post(appel, [1, 1, 1], recommandation="x"))

    assert "Choisissez une recommandation dans la liste." in text_of(response)
    assert not Evaluation.objects.exists()


def test_submit_with_a_missing_score_keeps_the_draft(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)
    client.post(evaluer_url(dossier), scores_post(appel, [3, None, None]))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [3, 2, None], button="soumettre", recommandation="attente"),
    )

    assert response.status_code == 200
    text = text_of(response)
    assert (
        "Notez chaque critère avant de soumettre : Présence garantie d'un binôme élu·e / "
        "technicien·ne." in text
    )
    evaluation = Evaluation.objects.get(candidature=dossier, jure=user)
    assert (evaluation.statut, evaluation.submitted_at) == (Evaluation.Statut.BROUILLON, None)
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [3, None, None]
    assert evaluation.recommandation == ""
    # The refused input is still there to complete.
    second = criteres_of(appel)[1]
    assert re.search(
        rf'<input type="radio" name="note_{second.pk}" value="2"[^>]*checked',
        response.content.decode(),
    )


def test_closed_scoring_shows_the_evaluation_read_only_and_refuses_changes(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    jury_services.save_evaluation(
        candidature=dossier, jure=user, notes=dict.fromkeys(criteres_of(appel), (1, ""))
    )
    jury_services.close_scoring(appel=appel, staff_user=charge_de_mission())
    login(client, user)

    page = client.get(evaluer_url(dossier))

    assert page.status_code == 200
    content = page.content.decode()
    assert "La notation est close." in text_of(page)
    radios = re.findall(r'<input type="radio"[^>]*>', content)
    assert radios
    assert all("disabled" in radio for radio in radios)
    assert 'value="Soumettre l' not in content
    assert 'value="Enregistrer le brouillon"' not in content
    assert "La notation est close." in text_of(client.get(dossier_url(dossier)))

    response = client.post(
        evaluer_url(dossier),
        scores_post(appel, [4, 4, 3], button="soumettre", recommandation="retenir"),
    )

    assert response.status_code == 200
    assert "La notation est close : les évaluations ne peuvent plus changer." in text_of(response)
    evaluation = Evaluation.objects.get()
    assert evaluation.statut == Evaluation.Statut.BROUILLON
    assert [valeur for _, valeur, _ in notes_in_db(evaluation)] == [1, 1, 1]


def test_jurors_see_no_dossier_before_the_deadline(client):
    """DESIGN: « After the deadline, jury members see… »: before it, the list is empty and
    every page of a submitted dossier is a 404; one second after it, the dossier is there."""
    appel = make_appel(edition_2021=False, slug="2028")  # open now: the deadline is ahead
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")

    # Signed in at each moment: a session opened today would have expired by then.
    with time_machine.travel(appel.closes_at, tick=False):
        login(client, user)
        before = [
            client.get(LIST_URL),
            client.get(dossier_url(dossier)),
            client.get(evaluer_url(dossier)),
            client.get(deporter_url(dossier)),
        ]
    with time_machine.travel(appel.closes_at + timedelta(seconds=1), tick=False):
        login(client, user)
        after = [client.get(LIST_URL), client.get(dossier_url(dossier))]

    assert [response.status_code for response in before] == [200, 404, 404, 404]
    assert result_rows(before[0]) == []
    assert [response.status_code for response in after] == [200, 200]
    assert [row.split(" | ")[0] for row in result_rows(after[0])] == [dossier.numero]


def test_a_dossier_with_an_extension_stays_hidden_until_its_own_deadline(client):
    appel = make_appel(edition_2021=False, slug="2028")
    on_time = deposee(appel, commune("62041"), 1)
    extended = deposee(appel, commune("80021"), 2)
    extended.prolongation_jusqu_au = appel.closes_at + timedelta(days=2)
    extended.save(update_fields=["prolongation_jusqu_au"])
    user = jure(appel, "jure@cerdd.test")

    with time_machine.travel(appel.closes_at + timedelta(seconds=1), tick=False):
        login(client, user)
        visible_first = set(Candidature.objects.for_juror(user).values_list("pk", flat=True))
        extended_page_first = client.get(dossier_url(extended)).status_code
    with time_machine.travel(extended.prolongation_jusqu_au + timedelta(seconds=1), tick=False):
        login(client, user)
        visible_then = set(Candidature.objects.for_juror(user).values_list("pk", flat=True))
        extended_page_then = client.get(dossier_url(extended)).status_code

    assert visible_first == {on_time.pk}
    assert extended_page_first == 404
    assert visible_then == {on_time.pk, extended.pk}
    assert extended_page_then == 200


# ---------------------------------------------------------------------------------------------
# Conflicts declared by the juror


def test_juror_declares_a_conflict_and_the_dossier_disappears(client, appel):
    arras = deposee(appel, commune("62041"), 1)
    deposee(appel, commune("62498"), 2)
    user = jure(appel, "jure@cerdd.test")
    login(client, user)

    page = client.get(deporter_url(arras))
    assert page.status_code == 200
    assert "Je me déporte du dossier AMI-2021-001 — Arras" in text_of(page)

    response = client.post(deporter_url(arras), {"motif": "  "})
    assert response.status_code == 200
    assert "Indiquez la raison pour laquelle vous vous déportez." in text_of(response)
    assert not ConflitInteret.objects.exists()

    response = client.post(deporter_url(arras), {"motif": "J'habite Arras."})

    assert response.status_code == 302
    assert response.headers["Location"] == LIST_URL
    assert messages_of(response) == [
        "Vous vous êtes déporté·e du dossier Arras (AMI-2021-001). Il n'apparaît plus dans votre "
        "liste et votre éventuelle évaluation n'est pas comptée."
    ]
    conflict = ConflitInteret.objects.get()
    assert (conflict.candidature, conflict.jure, conflict.origine, conflict.motif) == (
        arras,
        user,
        ConflitInteret.Origine.DECLARE,
        "J'habite Arras.",
    )
    assert result_rows(client.get(LIST_URL)) == [
        "AMI-2021-002 | Lens | 62 | Commune | Non commencée | Évaluer"
    ]
    for url in [dossier_url(arras), evaluer_url(arras), deporter_url(arras)]:
        assert client.get(url).status_code == 404
    assert client.post(evaluer_url(arras), scores_post(appel, [1, 1, 1])).status_code == 404
    assert not Evaluation.objects.exists()


# ---------------------------------------------------------------------------------------------
# Independence until the deliberation opens


def test_other_jurors_evaluations_appear_only_after_deliberation_opens(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test", first_name="Léa", last_name="Caron")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes={
            critere: (score, f"Note de Marc n° {critere.ordre}")
            for critere, score in zip(criteres_of(appel), [4, 3, 1], strict=True)
        },
        commentaire_prive="Marc, pour le jury seulement.",
        retour_collectivite="Marc : bravo pour le budget participatif.",
        recommandation=Recommandation.NE_PAS_RETENIR,
        submit=True,
    )
    # A juror who later withdrew: their évaluation is never shown.
    nadia = jure(appel, "nadia@cerdd.test", first_name="Nadia", last_name="Benali")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=nadia,
        notes=dict.fromkeys(criteres_of(appel), (0, "Note de Nadia")),
        commentaire_prive="Nadia, pour le jury.",
        recommandation=Recommandation.RETENIR,
        submit=True,
    )
    jury_services.declare_conflict(candidature=dossier, jure=nadia, motif="Élue d'Arras.")
    login(client, lea)
    hidden = [
        "Marc",
        "Note de Marc",
        "Marc, pour le jury seulement.",
        "bravo pour le budget participatif",
        "Évaluations des autres juré·es",
        "Nadia",
    ]

    for url in [dossier_url(dossier), evaluer_url(dossier)]:
        before = page_text(client.get(url))  # tags and attributes included
        for secret in hidden:
            assert secret not in before, (url, secret)

    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    after = text_of(client.get(dossier_url(dossier)))

    assert "Évaluations des autres juré·es" in after
    assert "Marc Delattre — soumise le" in after
    assert "Recommandation : Ne pas retenir" in after
    for ordre, (libelle, note_max, _) in enumerate(GRILLE, start=1):
        score = [4, 3, 1][ordre - 1]
        assert f"{libelle} {score} / {note_max} Note de Marc n° {ordre}" in after
    assert "Retour pour la collectivité : Marc : bravo pour le budget participatif." in after
    assert "Commentaire pour le jury : Marc, pour le jury seulement." in after
    assert "Nadia" not in after


def test_a_jurors_posts_are_in_the_evaluation_history_with_who_and_before_after(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test", first_name="Léa", last_name="Caron")
    login(client, lea)
    first = client.post(
        evaluer_url(dossier),
        scores_post(appel, [2, 3, 1], retour_collectivite="Un budget à préciser."),
    )
    second = client.post(
        evaluer_url(dossier),
        scores_post(
            appel,
            [2, 3, 1],
            button="soumettre",
            recommandation="attente",
            retour_collectivite="Un budget participatif bien engagé.",
        ),
    )
    evaluation = Evaluation.objects.get()
    login(client, charge_de_mission())

    history = client.get(f"/admin/candidatures/evaluation/{evaluation.pk}/history/")

    assert (first.status_code, second.status_code) == (302, 302)
    records = list(evaluation.history.order_by("history_date", "history_id"))
    assert [record.history_user for record in records] == [lea] * len(records)
    content = page_text(history)
    rows = content[content.index('id="change-history"') :]
    assert rows.count(f'<a href="/admin/cerdd_ami/user/{lea.pk}/change/">Léa Caron</a>') == len(
        records
    )
    changes = text_of(history).replace("\xa0", " ")
    assert (
        "Retour pour la collectivité : Un budget à préciser. → Un budget participatif bien "
        "engagé." in changes
    )
    assert "None" not in changes


def test_evaluation_of_a_colleague_removed_from_the_jury_is_not_shown(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes=dict.fromkeys(criteres_of(appel), (2, "Note de Marc")),
        recommandation=Recommandation.RETENIR,
        submit=True,
    )
    MembreJury.objects.filter(user=marc).delete()  # Marc leaves the jury
    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    login(client, lea)

    text = text_of(client.get(dossier_url(dossier)))

    assert "Aucun·e autre juré·e n'a soumis d'évaluation de ce dossier." in text
    assert "Note de Marc" not in text


def test_drafts_of_other_jurors_stay_hidden_after_deliberation(client, appel):
    dossier = deposee(appel, commune("62041"), 1)
    lea = jure(appel, "lea@cerdd.test")
    marc = jure(appel, "marc@cerdd.test", first_name="Marc", last_name="Delattre")
    jury_services.save_evaluation(
        candidature=dossier,
        jure=marc,
        notes=dict.fromkeys(criteres_of(appel), (2, "Brouillon de Marc")),
    )
    staff = charge_de_mission()
    jury_services.close_scoring(appel=appel, staff_user=staff)
    jury_services.open_deliberation(appel=appel, staff_user=staff)
    login(client, lea)

    text = text_of(client.get(dossier_url(dossier)))

    assert "Aucun·e autre juré·e n'a soumis d'évaluation de ce dossier." in text
    assert "Brouillon de Marc" not in text


# ---------------------------------------------------------------------------------------------
# The form on its own


def test_form_labels_a_level_without_guidance_by_its_number_only(appel):
    dossier = deposee(appel, commune("62041"), 1)
    third = criteres_of(appel)[2]

    form = EvaluationForm(dossier)

    assert form.fields[f"note_{third.pk}"].choices == [
        (0, "0 — Pas de binôme identifié."),
        (1, "1 — Un·e seul·e référent·e identifié·e."),
        (2, "2 — Binôme identifié, disponibilité incertaine."),
        (3, "3"),
    ]


def test_form_refuses_a_tampered_score_with_the_scale(appel):
    dossier = deposee(appel, commune("62041"), 1)
    third = criteres_of(appel)[2]

    form = EvaluationForm(dossier, data={f"note_{third.pk}": "4"})

    assert not form.is_valid()
    assert form.errors[f"note_{third.pk}"] == ["Choisissez une note entre 0 et 3."]
    assert form.error_summary() == [
        "Présence garantie d'un binôme élu·e / technicien·ne : Choisissez une note entre 0 et 3."
    ]


def test_form_starts_from_the_saved_evaluation(appel):
    dossier = deposee(appel, commune("62041"), 1)
    user = jure(appel, "jure@cerdd.test")
    first, second, third = criteres_of(appel)
    evaluation = jury_services.save_evaluation(
        candidature=dossier,
        jure=user,
        notes={first: (4, "Très engagée."), second: (None, "À relire.")},
        retour_collectivite="Merci.",
        recommandation=Recommandation.RETENIR,
    )

    form = EvaluationForm(dossier, evaluation)

    assert form[f"note_{first.pk}"].value() == 4
    assert form[f"commentaire_{first.pk}"].value() == "Très engagée."
    assert form[f"note_{second.pk}"].value() is None
    assert form[f"commentaire_{second.pk}"].value() == "À relire."
    assert form[f"note_{third.pk}"].value() is None
    assert form["recommandation"].value() == "retenir"
    assert form["retour_collectivite"].value() == "Merci."
