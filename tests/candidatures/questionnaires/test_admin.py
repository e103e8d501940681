"""The questionnaire's admin: safe changes once a dossier is deposited, the preview."""

import pytest

from candidatures.dossiers import submission
from candidatures.questionnaires.models import EtapeQuestionnaire, Question
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.factories import UserFactory, charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    sync_role_permissions()
    client.force_login(charge_de_mission())
    return client


def formset_data(etape, changes=None, delete=None):
    questions = list(etape.questions.all())
    data = {
        "appel": etape.appel_id,
        "ordre": etape.ordre,
        "titre": etape.titre,
        "intro": etape.intro,
        "questions-TOTAL_FORMS": len(questions),
        "questions-INITIAL_FORMS": len(questions),
        "questions-MIN_NUM_FORMS": 0,
        "questions-MAX_NUM_FORMS": 1000,
    }
    for index, question in enumerate(questions):
        prefix = f"questions-{index}-"
        data |= {
            f"{prefix}id": question.pk,
            f"{prefix}etape": etape.pk,
            f"{prefix}ordre": question.ordre,
            f"{prefix}code": question.code,
            f"{prefix}libelle": question.libelle,
            f"{prefix}libelle_court": question.libelle_court,
            f"{prefix}aide": question.aide,
            f"{prefix}manque": question.manque,
            f"{prefix}type": question.type,
            f"{prefix}max_caracteres": question.options.get("max_caracteres", ""),
        }
        if question.obligatoire:
            data[f"{prefix}obligatoire"] = "on"
        data |= {f"{prefix}{key}": value for key, value in (changes or {}).get(index, {}).items()}
        if delete == index:
            data[f"{prefix}DELETE"] = "on"
    return data


def change_url(etape):
    return f"/admin/candidatures/etapequestionnaire/{etape.pk}/change/"


@pytest.fixture
def deposited_call():
    appel = AppelFactory()
    user = UserFactory()
    dossier = complete_candidature(appel=appel, createur=user)
    submission.submit_candidature(candidature=dossier, user=user)
    return EtapeQuestionnaire.objects.get(appel=appel, ordre=1)


def test_admin_question_type_cannot_change_once_a_dossier_is_deposited(
    staff_client, deposited_call
):
    etape = deposited_call
    response = staff_client.post(
        change_url(etape), formset_data(etape, changes={0: {"type": "texte_court"}})
    )

    assert response.status_code == 200
    assert (
        "Le type de cette question ne peut plus changer : un dossier de l&#x27;appel a déjà été "
        "déposé avec elle." in response.content.decode()
    )
    assert Question.objects.get(etape=etape, code="motivations").type == "texte_long"


def test_admin_question_cannot_be_deleted_once_a_dossier_is_deposited(staff_client, deposited_call):
    etape = deposited_call
    response = staff_client.post(change_url(etape), formset_data(etape, delete=3))

    assert response.status_code == 200
    assert "Cette question ne peut plus être supprimée" in response.content.decode()
    assert list(etape.questions.values_list("code", flat=True)) == [
        "motivations",
        "actions",
        "pistes",
        "besoins",
    ]


def test_admin_wording_changes_and_new_optional_question_once_deposited(
    staff_client, deposited_call
):
    etape = deposited_call
    data = formset_data(etape, changes={0: {"libelle": "Vos motivations, en quelques lignes"}})
    data |= {
        "questions-TOTAL_FORMS": 5,
        "questions-4-ordre": 5,
        "questions-4-code": "format",
        "questions-4-libelle": "Format préféré",
        "questions-4-type": "choix_unique",
        "questions-4-choix": "Présentiel\nÀ distance",
        "questions-4-autre": "on",
    }

    response = staff_client.post(change_url(etape), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Question.objects.get(etape=etape, code="motivations").libelle == (
        "Vos motivations, en quelques lignes"
    )
    added = Question.objects.get(etape=etape, code="format")
    assert (added.obligatoire, added.type, added.options) == (
        False,
        "choix_unique",
        {"choix": ["Présentiel", "À distance"], "autre": True},
    )


def test_admin_draft_only_call_lets_staff_delete_a_question(staff_client):
    appel = AppelFactory()
    complete_candidature(appel=appel)
    etape = EtapeQuestionnaire.objects.get(appel=appel, ordre=1)

    response = staff_client.post(change_url(etape), formset_data(etape, delete=3))

    assert response.status_code == 302
    assert list(etape.questions.values_list("code", flat=True)) == [
        "motivations",
        "actions",
        "pistes",
    ]


def test_admin_preview_shows_the_form_as_applicants_see_it_disabled(staff_client):
    appel = AppelFactory()

    response = staff_client.get(f"/admin/candidatures/etapequestionnaire/apercu/{appel.pk}/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "Motivations de la collectivité à s'engager dans ce cycle" in page_text(response)
    assert content.count('name="motivations"') == 1
    assert 'name="lettre"' in content
    assert content.count("disabled") >= 6


def test_admin_preview_anonymous_goes_to_login_and_applicant_too(client):
    appel = AppelFactory()
    url = f"/admin/candidatures/etapequestionnaire/apercu/{appel.pk}/"

    anonymous = client.get(url)
    client.force_login(UserFactory())
    applicant = client.get(url)

    assert anonymous.status_code == 302
    assert applicant.status_code == 302
    assert anonymous.headers["Location"].startswith("/admin/login/")
