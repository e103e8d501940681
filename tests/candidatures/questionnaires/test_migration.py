"""Migration 0018 gives existing calls the 2021 questionnaire and copies each dossier's
answers and pieces into it; backwards, the columns get them again. The receipt of a demo-like
dossier reads the same before and after."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from candidatures.dossiers import receipt, submission
from cerdd_ami.formats import NBSP

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("candidatures", "0016_dossier_messages_and_demande_complement")]
AFTER = [("candidatures", "0018_fill_questionnaires_from_fixed_form")]
TEXTS = {
    "motivations": "Notre Plan Climat a été écrit avec les habitant·es.\nAller plus loin.",
    "actions": "Budget participatif depuis 2019.",
    "pistes": "Une assemblée citoyenne du climat.",
    "besoins": "Mobiliser au-delà des habitué·es.",
}
# What the 2021 form printed for its questions (the fixed FORM_SECTIONS before 0018).
OLD_LABELS = {
    "motivations": (
        "Motivations de la collectivité à s'engager dans ce cycle (parcours, objectifs, "
        "regard sur la participation citoyenne et le développement durable…)"
    ),
    "actions": (
        "Actions déjà réalisées ou prévues dans le domaine de la participation citoyenne "
        "et du développement durable"
    ),
    "pistes": (
        "Pistes de travail envisagées (ou imaginées sans formalisation) sur la dynamique "
        "participative de votre territoire"
    ),
    "besoins": (
        "Principaux besoins identifiés (au sein de votre organisation, à l'échelle du "
        "territoire) sur le sujet de la participation et de la mobilisation citoyenne, "
        "qui pourraient être traités dans ce cycle"
    ),
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def receipt_text(contenu):
    context = receipt.receipt_context(contenu)
    lines = []
    for section in context["sections"]:
        lines.append(section["titre"])
        for group in section["groupes"]:
            lines += [f"{a['libelle']} : {a['valeur']}" for a in group["reponses"]]
    lines += [f"{p['nature']} : {p['nom']} {p['sha256']}" for p in context["pieces"]]
    return "\n".join(lines).replace(NBSP, " ")


@pytest.fixture
def old_dossier():
    old = migrate(BEFORE)
    Appel = old.get_model("candidatures", "Appel")
    Candidature = old.get_model("candidatures", "Candidature")
    Collectivite = old.get_model("candidatures", "Collectivite")
    PieceJointe = old.get_model("candidatures", "PieceJointe")
    from tests.candidatures.factories import AppelFactory

    template = AppelFactory.build()
    appel = Appel.objects.create(
        **{
            field.name: getattr(template, field.name)
            for field in Appel._meta.concrete_fields
            if field.name != "id" and hasattr(template, field.name)
        }
    )
    dossier = Candidature.objects.create(
        appel=appel,
        collectivite=Collectivite.objects.get(insee="62041"),
        adresse="Place des Héros",
        **TEXTS,
    )
    PieceJointe.objects.create(
        candidature=dossier,
        nature="lettre",
        fichier="dossiers/x/lettre.pdf",
        nom_original="lettre.pdf",
        type_mime="application/pdf",
        taille=10,
        sha256="a" * 64,
    )
    yield appel.pk, dossier.pk
    call_command("migrate", verbosity=0)


def test_migration_copies_answers_and_pieces_and_the_receipt_reads_the_same(old_dossier):
    _appel_pk, dossier_pk = old_dossier
    migrate(AFTER)
    # Then the later migrations, which only add columns: the live models read every one.
    call_command("migrate", verbosity=0)
    from candidatures.models import Candidature, PieceJointe, Reponse

    candidature = Candidature.objects.select_related("appel", "collectivite").get(pk=dossier_pk)
    answers = {
        r.question.code: r.valeur
        for r in Reponse.objects.filter(candidature=candidature).select_related("question")
    }
    piece = PieceJointe.objects.get(candidature=candidature)
    contenu = submission.build_snapshot(
        candidature=candidature,
        version=1,
        submitted_at=candidature.appel.opens_at,
        submitted_by=None,
    )

    assert answers == TEXTS
    assert piece.question.code == "lettre"
    text = receipt_text(contenu)
    for code, value in TEXTS.items():
        assert f"{OLD_LABELS[code]} : {value}" in text
    assert "Motivations et projet\n" in text
    assert "Lettre de motivation : lettre.pdf " + "a" * 64 in text
    # Before: the same sections, the four answers under « Motivations et projet ».
    assert [s["titre"] for s in contenu["sections"]] == [
        "Coordonnées",
        "Référent·es",
        "Motivations et projet",
        "Engagements",
    ]


def test_migration_backwards_gives_the_columns_their_answers_again(old_dossier):
    _appel_pk, dossier_pk = old_dossier
    migrate(AFTER)
    from candidatures.models import Reponse

    Reponse.objects.filter(candidature_id=dossier_pk, question__code="pistes").update(
        valeur="Pistes revues après la migration."
    )

    old = migrate(BEFORE)

    Candidature = old.get_model("candidatures", "Candidature")
    PieceJointe = old.get_model("candidatures", "PieceJointe")
    dossier = Candidature.objects.get(pk=dossier_pk)
    assert {code: getattr(dossier, code) for code in TEXTS} == {
        **TEXTS,
        "pistes": "Pistes revues après la migration.",
    }
    assert list(PieceJointe.objects.values_list("nature", flat=True)) == ["lettre"]
