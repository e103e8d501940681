"""Give every existing call the questionnaire its form had in code (four long texts, the
motivation letter, supporting documents), and copy each dossier's answers and pieces into it.

Reversible: backwards, the answers go back into the Candidature columns and the pieces get
their nature again, then the questionnaires are deleted. The questions are frozen here as
they were (candidatures/questionnaires/standard.py may change later).
"""

from django.db import migrations

TEXT_CODES = ["motivations", "actions", "pistes", "besoins"]
NATURE_TO_CODE = {"lettre": "lettre", "complement": "complement"}

STANDARD_STEPS = [{'titre': 'Motivations et projet',
  'intro': '',
  'questions': [{'code': 'motivations',
                 'libelle': "Motivations de la collectivité à s'engager dans ce cycle "
                            '(parcours, objectifs, regard sur la participation citoyenne '
                            'et le développement durable…)',
                 'libelle_court': 'Motivations',
                 'aide': 'Parcours, objectifs, regard sur la participation citoyenne et le '
                         'développement durable ; la place que la collectivité accorde ou '
                         'souhaite accorder à la démocratie participative.',
                 'manque': 'les motivations de la collectivité',
                 'type': 'texte_long',
                 'options': {'max_caracteres': 5000}},
                {'code': 'actions',
                 'libelle': 'Actions déjà réalisées ou prévues dans le domaine de la '
                            'participation citoyenne et du développement durable',
                 'libelle_court': 'Actions déjà réalisées ou prévues',
                 'aide': '',
                 'manque': 'les actions déjà réalisées ou prévues',
                 'type': 'texte_long',
                 'options': {'max_caracteres': 5000}},
                {'code': 'pistes',
                 'libelle': 'Pistes de travail envisagées (ou imaginées sans '
                            'formalisation) sur la dynamique participative de votre '
                            'territoire',
                 'libelle_court': 'Pistes de travail envisagées',
                 'aide': '',
                 'manque': 'les pistes de travail envisagées',
                 'type': 'texte_long',
                 'options': {'max_caracteres': 5000}},
                {'code': 'besoins',
                 'libelle': 'Principaux besoins identifiés (au sein de votre organisation, '
                            "à l'échelle du territoire) sur le sujet de la participation "
                            'et de la mobilisation citoyenne, qui pourraient être traités '
                            'dans ce cycle',
                 'libelle_court': 'Principaux besoins identifiés',
                 'aide': '',
                 'manque': 'les principaux besoins identifiés',
                 'type': 'texte_long',
                 'options': {'max_caracteres': 5000}}]},
 {'titre': 'Pièces jointes',
  'intro': 'La lettre de motivation explique la place que la collectivité accorde à la '
           "démocratie participative, l'objectif recherché en participant au cycle et ce "
           "qu'elle pense y apporter.",
  'questions': [{'code': 'lettre',
                 'libelle': 'Lettre de motivation',
                 'libelle_court': '',
                 'aide': 'PDF, DOC, DOCX ou ODT.',
                 'manque': 'la lettre de motivation',
                 'type': 'fichier',
                 'options': {'formats': ['pdf', 'doc', 'docx', 'odt'], 'plusieurs': False}},
                {'code': 'complement',
                 'libelle': 'Document complémentaire',
                 'libelle_court': 'Documents complémentaires',
                 'aide': 'PDF, DOC, DOCX, ODT, ou images PNG et JPEG.',
                 'manque': '',
                 'obligatoire': False,
                 'type': 'fichier',
                 'options': {'formats': ['pdf', 'doc', 'docx', 'odt', 'png', 'jpeg'],
                             'plusieurs': True}}]}]


def forwards(apps, schema_editor):
    Appel = apps.get_model("candidatures", "Appel")
    EtapeQuestionnaire = apps.get_model("candidatures", "EtapeQuestionnaire")
    Question = apps.get_model("candidatures", "Question")
    Reponse = apps.get_model("candidatures", "Reponse")
    Candidature = apps.get_model("candidatures", "Candidature")
    PieceJointe = apps.get_model("candidatures", "PieceJointe")
    for appel in Appel.objects.all():
        if EtapeQuestionnaire.objects.filter(appel=appel).exists():
            continue
        questions = {}
        for ordre, step in enumerate(STANDARD_STEPS, start=1):
            etape = EtapeQuestionnaire.objects.create(
                appel=appel, ordre=ordre, titre=step["titre"], intro=step["intro"]
            )
            for number, data in enumerate(step["questions"], start=1):
                questions[data["code"]] = Question.objects.create(
                    etape=etape,
                    ordre=number,
                    code=data["code"],
                    libelle=data["libelle"],
                    libelle_court=data["libelle_court"],
                    aide=data["aide"],
                    manque=data["manque"],
                    obligatoire=data.get("obligatoire", True),
                    type=data["type"],
                    options=data["options"],
                )
        Reponse.objects.bulk_create(
            Reponse(candidature=candidature, question=questions[code], valeur=value)
            for candidature in Candidature.objects.filter(appel=appel)
            for code in TEXT_CODES
            if (value := getattr(candidature, code))
        )
        for nature, code in NATURE_TO_CODE.items():
            PieceJointe.objects.filter(candidature__appel=appel, nature=nature).update(
                question=questions[code]
            )


def backwards(apps, schema_editor):
    Candidature = apps.get_model("candidatures", "Candidature")
    EtapeQuestionnaire = apps.get_model("candidatures", "EtapeQuestionnaire")
    PieceJointe = apps.get_model("candidatures", "PieceJointe")
    Reponse = apps.get_model("candidatures", "Reponse")
    for code in TEXT_CODES:
        for reponse in Reponse.objects.filter(question__code=code).select_related("question"):
            Candidature.objects.filter(pk=reponse.candidature_id).update(
                **{code: str(reponse.valeur or "")}
            )
    PieceJointe.objects.filter(question__code="lettre").update(nature="lettre")
    PieceJointe.objects.exclude(question__code="lettre").update(nature="complement")
    PieceJointe.objects.update(question=None)
    EtapeQuestionnaire.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("candidatures", "0017_questionnaire_steps_questions_answers")]

    operations = [migrations.RunPython(forwards, backwards)]
