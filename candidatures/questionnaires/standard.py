"""The questionnaire of the 2021 call (« Vers des territoires participatifs »), as data.

Once fixed in code (four long texts, a motivation letter, supporting documents), it is the
questionnaire the data migration gave every existing call, and the one a new call may start
from (``services.create_standard_questionnaire``). Labels are those the receipts printed.
"""

TEXT_MAX_LENGTH = 5000

STANDARD_STEPS = [
    {
        "titre": "Motivations et projet",
        "intro": "",
        "questions": [
            {
                "code": "motivations",
                "libelle": (
                    "Motivations de la collectivité à s'engager dans ce cycle (parcours, "
                    "objectifs, regard sur la participation citoyenne et le développement "
                    "durable…)"
                ),
                "libelle_court": "Motivations",
                "aide": (
                    "Parcours, objectifs, regard sur la participation citoyenne et le "
                    "développement durable ; la place que la collectivité accorde ou souhaite "
                    "accorder à la démocratie participative."
                ),
                "manque": "les motivations de la collectivité",
                "type": "texte_long",
                "options": {"max_caracteres": TEXT_MAX_LENGTH},
            },
            {
                "code": "actions",
                "libelle": (
                    "Actions déjà réalisées ou prévues dans le domaine de la participation "
                    "citoyenne et du développement durable"
                ),
                "libelle_court": "Actions déjà réalisées ou prévues",
                "aide": "",
                "manque": "les actions déjà réalisées ou prévues",
                "type": "texte_long",
                "options": {"max_caracteres": TEXT_MAX_LENGTH},
            },
            {
                "code": "pistes",
                "libelle": (
                    "Pistes de travail envisagées (ou imaginées sans formalisation) sur la "
                    "dynamique participative de votre territoire"
                ),
                "libelle_court": "Pistes de travail envisagées",
                "aide": "",
                "manque": "les pistes de travail envisagées",
                "type": "texte_long",
                "options": {"max_caracteres": TEXT_MAX_LENGTH},
            },
            {
                "code": "besoins",
                "libelle": (
                    "Principaux besoins identifiés (au sein de votre organisation, à l'échelle "
                    "du territoire) sur le sujet de la participation et de la mobilisation "
                    "citoyenne, qui pourraient être traités dans ce cycle"
                ),
                "libelle_court": "Principaux besoins identifiés",
                "aide": "",
                "manque": "les principaux besoins identifiés",
                "type": "texte_long",
                "options": {"max_caracteres": TEXT_MAX_LENGTH},
            },
        ],
    },
    {
        "titre": "Pièces jointes",
        "intro": (
            "La lettre de motivation explique la place que la collectivité accorde à la "
            "démocratie participative, l'objectif recherché en participant au cycle et ce "
            "qu'elle pense y apporter."
        ),
        "questions": [
            {
                "code": "lettre",
                "libelle": "Lettre de motivation",
                "libelle_court": "",
                "aide": "PDF, DOC, DOCX ou ODT.",
                "manque": "la lettre de motivation",
                "type": "fichier",
                "options": {"formats": ["pdf", "doc", "docx", "odt"], "plusieurs": False},
            },
            {
                "code": "complement",
                "libelle": "Document complémentaire",
                "libelle_court": "Documents complémentaires",
                "aide": "PDF, DOC, DOCX, ODT, ou images PNG et JPEG.",
                "manque": "",
                "obligatoire": False,
                "type": "fichier",
                "options": {
                    "formats": ["pdf", "doc", "docx", "odt", "png", "jpeg"],
                    "plusieurs": True,
                },
            },
        ],
    },
]
