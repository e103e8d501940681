"""Demo questionnaires: every call gets the standard one (2021's), the open edition asks one
question more (a choice), and a second programme's call, « Alimentation durable », shows a
different form."""

from datetime import datetime, timedelta

from django.utils import timezone

from candidatures.appels.models import Appel
from candidatures.appels.seed import PARIS, appel_texts, ensure_criteres

from .demo_alimentation import ALIMENTATION_CRITERES, ALIMENTATION_TEXTS
from .models import EtapeQuestionnaire, Question
from .services import create_standard_questionnaire

FORMAT_QUESTION = {
    "code": "format",
    "libelle": "Sous quel format la collectivité préfère-t-elle suivre les séances ?",
    "libelle_court": "Format préféré",
    "aide": "Pour organiser le cycle : une seule réponse.",
    "obligatoire": True,
    "manque": "le format préféré des séances",
    "type": "choix_unique",
    "options": {"choix": ["En présentiel", "À distance", "L'un ou l'autre"], "autre": False},
}

ALIMENTATION_STEPS = [
    {
        "titre": "Projet alimentaire",
        "intro": "Présentez le projet alimentaire de votre territoire.",
        "questions": [
            {
                "code": "projet",
                "libelle": "Décrivez votre projet alimentaire territorial",
                "libelle_court": "Projet alimentaire",
                "manque": "la description du projet alimentaire",
                "type": "texte_long",
                "options": {"min_caracteres": 50, "max_caracteres": 3000},
            },
            {
                "code": "leviers",
                "libelle": "Leviers que la collectivité mobilise déjà",
                "libelle_court": "Leviers mobilisés",
                "type": "choix_multiple",
                "options": {
                    "choix": [
                        "Restauration collective",
                        "Circuits courts",
                        "Foncier agricole",
                        "Lutte contre le gaspillage",
                    ],
                    "autre": True,
                },
            },
            {
                "code": "repas",
                "libelle": "Nombre de repas servis chaque jour en restauration collective",
                "libelle_court": "Repas par jour",
                "type": "nombre",
                "options": {"min": 0, "max": 1000000},
            },
        ],
    },
    {
        "titre": "Calendrier et pièces",
        "intro": "",
        "questions": [
            {
                "code": "debut",
                "libelle": "Date de début envisagée",
                "libelle_court": "Début envisagé",
                "type": "date",
            },
            {
                "code": "pat",
                "libelle": "Un projet alimentaire territorial (PAT) est-il déjà labellisé ?",
                "libelle_court": "PAT labellisé",
                "type": "oui_non",
            },
            {
                "code": "diagnostic",
                "libelle": "Diagnostic alimentaire du territoire",
                "libelle_court": "Diagnostic",
                "aide": "PDF, 5 Mo au plus.",
                "obligatoire": False,
                "type": "fichier",
                "options": {"formats": ["pdf"], "taille_max_mo": 5, "plusieurs": False},
            },
        ],
    },
]


def ensure_questionnaire(appel, *, extra_question=False) -> None:
    """The standard questionnaire on ``appel`` if it has none; with ``extra_question``, the
    open edition's choice question too (after the four texts)."""
    if not EtapeQuestionnaire.objects.filter(appel=appel).exists():
        create_standard_questionnaire(appel=appel)
    if extra_question and not Question.objects.filter(etape__appel=appel, code="format").exists():
        etape = EtapeQuestionnaire.objects.filter(appel=appel).order_by("ordre").first()
        last = max(etape.questions.values_list("ordre", flat=True), default=0)
        Question.objects.create(etape=etape, ordre=last + 1, **FORMAT_QUESTION)


def ensure_appel_alimentation(today=None):
    """Another programme's call, open now, with its own questionnaire."""
    today = today or timezone.localdate()
    opens = datetime.combine(today - timedelta(days=7), datetime.min.time(), tzinfo=PARIS)
    closes = datetime.combine(today + timedelta(days=45), datetime.max.time(), tzinfo=PARIS)
    closes = closes.replace(microsecond=0)
    # The contact and signatory are the 2021 call's; every public text is its own.
    texts = appel_texts() | ALIMENTATION_TEXTS
    appel, created = Appel.objects.get_or_create(
        slug=f"alimentation-durable-{today.year + 1}",
        defaults={
            "titre": f"Alimentation durable en Hauts-de-France — {today.year + 1}",
            "programme": "Alimentation durable",
            "prefixe_numero": f"ALIM-{today.year + 1}",
            "est_publie": True,
            "opens_at": opens,
            "closes_at": closes,
            "announcement_at": closes + timedelta(days=30),
            "first_session_date": (closes + timedelta(days=60)).date(),
            "first_session_place": "Lille",
            "places": 10,
            **texts,
        },
    )
    if created:
        create_standard_questionnaire(appel=appel, steps=ALIMENTATION_STEPS)
    ensure_criteres(appel, ALIMENTATION_CRITERES)
    return appel
