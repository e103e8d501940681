"""Décisions in the admin: capacity, bulk decisions, one decision, publication, letters."""

import hashlib
import html
import io
import re
import zipfile
from datetime import datetime

import pytest
from django.core.management import call_command

from candidatures.decisions import letters, publication
from candidatures.decisions import services as decisions_services
from candidatures.jury import services as jury_services
from candidatures.models import Courrier, Decision, EnvoiCourrier, Evaluation, Issue, MembreJury
from cerdd_ami import pdf
from tests.candidatures.decisions.decisions_helpers import (
    ANNOUNCEMENT,
    APPELS_URL,
    DECISIONS_URL,
    PARIS,
    PUBLISHED_IN_BACKGROUND,
    RETOUR,
    SUBMITTED_URL,
    HTMLFailingFor002,
    decide,
    referents,
)
from tests.factories import juror
from tests.html_forms import parse_form
from tests.utils import page_text, pdf_text

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Admin: capacity, bulk decisions, one decision, publication, letters


def test_capacity_panel_warns_past_capacity(staff_client, appel, arras, lille, amiens, staff):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.RETENUE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)

    content = page_text(staff_client.get(DECISIONS_URL))

    assert (
        f"<strong>1 place — 2 retenues — liste d'attente : 1. {amiens.collectivite.nom}</strong>"
        in content
    )
    assert "⚠ Attention : 2 collectivités retenues pour 1 place." in content


def test_capacity_panel_has_no_warning_within_capacity(staff_client, appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)

    content = page_text(staff_client.get(DECISIONS_URL))

    assert "<strong>12 places — 1 retenue — liste d'attente : vide</strong>" in content
    assert "Attention" not in content


def test_bulk_waiting_list_asks_the_motivation_then_ranks_by_the_jury(
    staff_client, appel, arras, lille, amiens, staff
):
    # The jury prefers Amiens to Lille: the waiting list follows the ranking, not the numbers.
    from tests.candidatures.factories import CritereFactory

    critere = CritereFactory(appel=appel, note_max=4)
    for dossier, score in ((lille, 2), (amiens, 4)):
        jure = juror()
        MembreJury.objects.create(appel=appel, user=jure)
        jury_services.save_evaluation(
            candidature=dossier,
            jure=jure,
            notes={critere: (score, "")},
            retour_collectivite=RETOUR,
            recommandation="attente",
            submit=True,
            now=datetime(2021, 3, 20, 10, tzinfo=PARIS),
        )
    selection = {"action": "decider_liste_attente", "_selected_action": [lille.pk, amiens.pk]}

    page = page_text(staff_client.post(SUBMITTED_URL, selection))

    assert "<h1>Décider : liste d'attente</h1>" in page
    assert decisions_services.default_motivation(Issue.LISTE_ATTENTE, appel) in page
    assert "12 places — 0 retenue — liste d'attente : vide" in page
    table = page[page.index('<table class="decision-lignes">') :]
    assert (
        "<tr> <td>1</td> <td>AMI-2021-003</td> <td>Amiens</td> <td>20,00</td> <td>—</td> </tr> "
        "<tr> <td>2</td> <td>AMI-2021-002</td> <td>Lille</td> <td>10,00</td> <td>—</td> </tr>"
    ) in table

    response = staff_client.post(SUBMITTED_URL, {**selection, "apply": "1", "motivation": "Bien."})

    assert response.status_code == 302
    assert list(
        Decision.objects.order_by("rang_attente").values_list(
            "candidature__numero", "issue", "rang_attente", "motivation", "decided_by"
        )
    ) == [
        ("AMI-2021-003", "liste_attente", 1, "Bien.", staff.pk),
        ("AMI-2021-002", "liste_attente", 2, "Bien.", staff.pk),
    ]
    assert Evaluation.objects.count() == 2


def test_bulk_non_retenue_without_motivation_is_refused_next_to_the_field(staff_client, arras):
    response = staff_client.post(
        SUBMITTED_URL,
        {
            "action": "decider_non_retenue",
            "_selected_action": [arras.pk],
            "apply": "1",
            "motivation": "",
        },
    )

    assert response.status_code == 200
    assert "Indiquez la motivation : elle figure dans le courrier « non retenue »." in page_text(
        response
    )
    assert not Decision.objects.exists()


def test_one_decision_from_the_form_offers_the_jurors_feedback(staff_client, appel, arras, staff):
    from tests.candidatures.factories import CritereFactory

    critere = CritereFactory(appel=appel, note_max=4)
    jure = juror()
    MembreJury.objects.create(appel=appel, user=jure)
    jury_services.save_evaluation(
        candidature=arras,
        jure=jure,
        notes={critere: (3, "")},
        retour_collectivite=RETOUR,
        recommandation="retenir",
        submit=True,
        now=datetime(2021, 3, 20, 10, tzinfo=PARIS),
    )

    form = page_text(staff_client.get(f"{DECISIONS_URL}add/?candidature={arras.pk}"))
    assert f'value="{RETOUR}"' in form

    response = staff_client.post(
        f"{DECISIONS_URL}add/",
        {
            "candidature": arras.pk,
            "issue": "retenue",
            "rang_attente": "",
            "motivation": "",
            "retour_jury": RETOUR,
        },
    )

    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.issue, decision.retour_jury, decision.decided_by) == (
        "retenue",
        RETOUR,
        staff,
    )
    assert decision.history.get().history_user == staff


def test_one_decision_form_shows_the_capacity_and_warns_past_it(
    staff_client, appel, arras, lille, staff
):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    arras_decision = Decision.objects.get(candidature=arras)

    change = page_text(staff_client.get(f"{DECISIONS_URL}{arras_decision.pk}/change/"))
    add = page_text(staff_client.get(f"{DECISIONS_URL}add/?candidature={lille.pk}"))

    for page in (change, add):
        assert "<strong>1 place — 1 retenue — liste d'attente : vide</strong>" in page
        assert "Attention" not in page

    response = staff_client.post(
        f"{DECISIONS_URL}add/",
        {"candidature": lille.pk, "issue": "retenue", "rang_attente": "", "motivation": ""},
        follow=True,
    )

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown[0] == (
        "warning",
        "1 place — 2 retenues — liste d'attente : vide. Attention : 2 collectivités retenues "
        "pour 1 place.",
    )
    assert [level for level, _ in shown] == ["warning", "success"]
    after = page_text(staff_client.get(f"{DECISIONS_URL}{arras_decision.pk}/change/"))
    assert "⚠ Attention : 2 collectivités retenues pour 1 place." in after


def test_admin_records_a_withdrawal_then_calls_the_next_of_the_waiting_list(
    staff_client,
    appel,
    arras,
    lille,
    amiens,
    staff,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    decide(amiens, Issue.LISTE_ATTENTE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    mailoutbox.clear()
    selection = {
        "action": "enregistrer_desistement",
        "_selected_action": [Decision.objects.get(candidature=arras).pk],
    }
    listing = f"{DECISIONS_URL}?candidature__appel__id__exact={appel.pk}"
    promote_url = f"{DECISIONS_URL}appel/{appel.pk}/appeler-suivant/"

    form = page_text(staff_client.post(DECISIONS_URL, selection))
    assert "<h1>Enregistrer un désistement</h1>" in form
    assert "Appeler le suivant" not in page_text(staff_client.get(listing))

    recorded = staff_client.post(
        DECISIONS_URL, {**selection, "apply": "1", "reason": "Le conseil a renoncé."}, follow=True
    )

    assert [m.message for m in recorded.context["messages"]] == [
        f"Désistement enregistré : {arras.collectivite.nom}. La place libérée peut être proposée "
        "au premier dossier de la liste d'attente (« Appeler le suivant de la liste d'attente », "
        "au-dessus de la liste)."
    ]
    assert Decision.objects.get(candidature=arras).desistement_motif == "Le conseil a renoncé."
    assert f"Appeler le suivant de la liste d'attente ({lille.collectivite.nom})" in page_text(
        staff_client.get(listing)
    )
    assert mailoutbox == []

    assert staff_client.get(promote_url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        promoted = staff_client.post(promote_url, follow=True)

    assert promoted.redirect_chain == [(listing, 302)]
    assert [(m.level_tag, m.message) for m in promoted.context["messages"]] == [
        (
            "success",
            f"{lille.collectivite.nom} est désormais retenue. Son nouveau courrier est préparé "
            "et envoyé aux référent·es par le worker : suivez-le dans « Envois de courrier ».",
        )
    ]
    decision = Decision.objects.get(candidature=lille)
    assert (decision.issue, decision.rang_attente) == (Issue.RETENUE, None)
    assert list(decision.courriers.values_list("version", "issue")) == [
        (2, Issue.RETENUE),
        (1, Issue.LISTE_ATTENTE),
    ]
    letter = decision.courriers.get(version=2)
    pdf = letter.pdf.read()
    assert decisions_services.PROMOTION_MOTIVATION in pdf_text(pdf)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))
    for message in mailoutbox:
        assert message.attachments[0].content == pdf
        assert "Ce courrier remplace le précédent." in message.body
    assert set(letter.envois.values_list("statut", flat=True)) == {"envoye"}
    assert Decision.objects.get(candidature=amiens).rang_attente == 1


def test_publish_action_on_the_appel_list_sends_the_letters_after_the_request(
    staff_client, appel, arras, staff, mailoutbox, django_capture_on_commit_callbacks
):
    decide(arras, Issue.RETENUE, staff)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk]}

    confirm = page_text(staff_client.post(APPELS_URL, selection))
    assert "12 places — 1 retenue — liste d'attente : vide" in confirm
    assert Decision.objects.get().published_at is None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(APPELS_URL, {**selection, "apply": "1"}, follow=True)
        assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
            ("success", f"{appel} : décisions publiées : 1. {PUBLISHED_IN_BACKGROUND}")
        ]
        assert Decision.objects.get().published_at is not None
        # The request rendered and sent nothing: the letters' task runs once it is committed.
        assert (Courrier.objects.count(), mailoutbox) == (0, [])

    assert len(callbacks) == 1
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    assert set(EnvoiCourrier.objects.values_list("statut", flat=True)) == {"envoye"}


def test_publish_action_with_a_failed_letter_the_task_fails_and_its_rerun_files_it(
    staff_client,
    appel,
    arras,
    lille,
    staff,
    mailoutbox,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    monkeypatch.setattr(pdf, "HTML", HTMLFailingFor002)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk], "apply": "1"}

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(APPELS_URL, selection, follow=True)

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("success", f"{appel} : décisions publiées : 2. {PUBLISHED_IN_BACKGROUND}")
    ]
    assert list(Courrier.objects.values_list("decision__candidature", flat=True)) == [arras.pk]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    with pytest.raises(publication.LettersNotDelivered) as failed:
        publication.deliver_letters.call(appel_id=appel.pk)
    assert str(failed.value) == (
        "Décisions publiées : 0 ; courriers classés : 0 ; courriers en échec : 1 ; "
        "e-mails envoyés : 0 ; échecs : 0. "
        f"{lille.collectivite.nom} (OSError : mise en page impossible)"
    )

    monkeypatch.undo()
    mailoutbox.clear()
    assert publication.deliver_letters.call(appel_id=appel.pk) == {
        "courriers_classes": 1,
        "emails_envoyes": 2,
    }

    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))


def test_publish_action_before_the_announcement_says_when(
    staff_client, appel, arras, staff, mailoutbox
):
    appel.announcement_at = datetime(2099, 4, 15, 9, 0, tzinfo=PARIS)
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    selection = {"action": "publier_decisions", "_selected_action": [appel.pk], "apply": "1"}

    response = staff_client.post(APPELS_URL, selection, follow=True)

    assert (
        f"{appel} : Les décisions ne peuvent être publiées qu'à partir du 15 avril 2099 à "
        "9 h 00 (heure de Paris)." in page_text(response)
    )
    assert Decision.objects.get().published_at is None
    assert mailoutbox == []


def test_staff_downloads_one_letter_and_exports_merged_and_zip(
    staff_client, appel, arras, lille, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    preview = staff_client.get(
        f"{DECISIONS_URL}{Decision.objects.get(candidature=arras).pk}/courrier/"
    )
    assert preview["Content-Disposition"] == 'inline; filename="apercu-arras-ami-2021-001.pdf"'
    assert Courrier.objects.count() == 0
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    decision = Decision.objects.get(candidature=arras)

    one = staff_client.get(f"{DECISIONS_URL}{decision.pk}/courrier/")
    assert b"".join(one.streaming_content) == decision.courriers.get().pdf.read()

    pks = list(Decision.objects.values_list("pk", flat=True))
    merged = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks})
    assert merged["Content-Type"] == "application/pdf"
    text = pdf_text(merged.content)
    assert text.index("AMI-2021-001") < text.index("AMI-2021-002")
    archive = staff_client.post(DECISIONS_URL, {"action": "export_zip", "_selected_action": pks})
    assert archive["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert names == [
        letters.letter_filename(Decision.objects.get(candidature=dossier))
        for dossier in (arras, lille)
    ]


def test_exports_give_the_filed_letters_even_after_the_template_changed(
    staff_client, appel, arras, lille, staff, mailoutbox, tmp_path
):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    appel.modeles_courrier.update(corps="Texte changé après la publication.")
    decisions = [Decision.objects.get(candidature=dossier) for dossier in (arras, lille)]
    filed = [decision.courriers.get() for decision in decisions]
    filed_texts = [pdf_text(courrier.pdf.read()) for courrier in filed]
    expected_zip = {
        letters.letter_filename(decision): courrier.sha256
        for decision, courrier in zip(decisions, filed, strict=True)
    }

    def zip_hashes(data):
        archive = zipfile.ZipFile(io.BytesIO(data))
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}

    pks = [decision.pk for decision in decisions]
    archive = staff_client.post(DECISIONS_URL, {"action": "export_zip", "_selected_action": pks})
    merged = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks})
    one = staff_client.post(DECISIONS_URL, {"action": "export_pdf", "_selected_action": pks[:1]})

    assert zip_hashes(archive.content) == expected_zip
    assert pdf_text(merged.content) == " ".join(filed_texts)
    assert "Texte changé" not in pdf_text(merged.content)
    assert hashlib.sha256(one.content).hexdigest() == filed[0].sha256

    call_command(
        "export_lettres",
        "--appel",
        "2021",
        "--format",
        "zip",
        "--sortie",
        str(tmp_path / "c.zip"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    call_command(
        "export_lettres",
        "--appel",
        "2021",
        "--sortie",
        str(tmp_path / "c.pdf"),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert zip_hashes((tmp_path / "c.zip").read_bytes()) == expected_zip
    assert pdf_text((tmp_path / "c.pdf").read_bytes()) == " ".join(filed_texts)


def test_staged_decision_changed_from_its_page_is_saved(staff_client, appel, arras, staff):
    """Defect 2: « Enregistrer » on a staged decision (its letters' inline on the page) lost
    the change in a 500."""
    decide(arras, Issue.RETENUE, staff)
    decision = Decision.objects.get()
    url = f"{DECISIONS_URL}{decision.pk}/change/"
    form = parse_form(staff_client.get(url).content, "decision_form")
    data = form.data("_save", issue="liste_attente", motivation="Un projet solide, encore à mûrir.")
    assert data["courriers-TOTAL_FORMS"] == "0"

    response = staff_client.post(url, data)

    assert response.status_code == 302
    assert list(
        Decision.objects.values_list("issue", "rang_attente", "motivation", "decided_by")
    ) == [("liste_attente", 1, "Un projet solide, encore à mûrir.", staff.pk)]
    assert decision.history.count() == 2


@pytest.mark.parametrize("which", ["add", "change"])
def test_decision_form_labels_are_capitalised_alike(staff_client, arras, staff, which):
    if which == "add":
        url = f"{DECISIONS_URL}add/?candidature={arras.pk}"
    else:
        url = f"{DECISIONS_URL}{decide(arras, Issue.RETENUE, staff).pk}/change/"
    content = staff_client.get(url).content.decode()
    start = content.index('id="decision_form"')
    form = content[start : content.index("</form>", start)]

    labels = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", label)).split())
        for label in re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", form, re.S)
    ]

    assert labels
    assert [label for label in labels if not label[:1].isupper()] == []
    if which == "change":
        # One sign for « nothing », as on the other admin pages.
        assert (">—<" in form, ">-<" in form) == (True, False)
    else:
        assert "Retour du jury cité dans le courrier :" in labels


def test_published_decision_page_is_read_only(staff_client, appel, arras, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    decision = Decision.objects.get()

    response = staff_client.post(
        f"{DECISIONS_URL}{decision.pk}/change/",
        {"issue": "non_retenue", "motivation": "Non.", "retour_jury": ""},
    )

    assert response.status_code == 403
    assert Decision.objects.get().issue == Issue.RETENUE
