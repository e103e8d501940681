from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cycle.participants.models import Participant

# The themes the call lists as « idées incontournables », offered in the needs survey.
THEMES_APPEL = [
    (
        "enjeux",
        "Les enjeux de la participation citoyenne face à la crise de la démocratie "
        "représentative et la crise écologique et climatique",
    ),
    (
        "postures",
        "Les postures de chacun·e dans les processus de mobilisation et de participation "
        "citoyenne : élu·es, technicien·nes, citoyen·nes",
    ),
    ("elus_activateurs", "Les élu·es activateurs de citoyenneté : principes et méthodes"),
    ("alliances", "Les alliances citoyen·nes – collectivités : par où commencer ?"),
    (
        "situations_complexes",
        "Gérer les situations complexes : les risques d'instrumentalisation et de récupération",
    ),
    (
        "outils",
        "Les outils utiles pour construire son processus participatif pour la transition "
        "écologique : boussole de la participation, Carto Party, mise en récit, budgets "
        "participatifs, outils numériques",
    ),
    ("diversite", "Sortir du « Tous les mêmes » : embarquer une diversité de citoyen·nes"),
    (
        "decision_evaluation",
        "L'implication citoyenne dans la décision, le suivi et l'évaluation des projets",
    ),
]


class ReponseSondage(models.Model):
    """A participant's answer to the needs survey sent before the first séance."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="sondage"
    )
    suggestions = models.TextField("vos propres thèmes", blank=True)
    attentes = models.TextField("vos attentes pour le cycle", blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "réponse au sondage des besoins"
        verbose_name_plural = "réponses au sondage des besoins"

    def __str__(self):
        return f"Sondage — {self.participant}"


class ChoixTheme(models.Model):
    reponse = models.ForeignKey(ReponseSondage, on_delete=models.CASCADE, related_name="choix")
    theme = models.CharField(max_length=30, choices=THEMES_APPEL)
    rang = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = "thème choisi"
        verbose_name_plural = "thèmes choisis"
        ordering = ["reponse", "rang"]
        constraints = [
            models.UniqueConstraint(fields=["reponse", "theme"], name="choix_theme_unique"),
            models.UniqueConstraint(fields=["reponse", "rang"], name="choix_rang_unique"),
            models.CheckConstraint(
                condition=Q(rang__gte=1) & Q(rang__lte=8), name="choix_rang_range"
            ),
        ]

    def __str__(self):
        return f"{self.rang}. {self.get_theme_display()}"
