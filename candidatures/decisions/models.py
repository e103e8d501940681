"""The Cerdd's decisions on submitted dossiers and the letters that announce them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.appels.models import Appel
from candidatures.dossiers.models import Candidature
from cerdd_ami.models import SuiviEnvoi


class Issue(models.TextChoices):
    RETENUE = "retenue", "Retenue"
    LISTE_ATTENTE = "liste_attente", "Liste d'attente"
    NON_RETENUE = "non_retenue", "Non retenue"


class DecisionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(published_at__isnull=False)

    def visible_to_applicant(self, user):
        """Published decisions on the applicant's own dossiers; nothing before publication."""
        return self.published().filter(candidature__in=Candidature.objects.visible_to(user))


class Decision(models.Model):
    """The Cerdd's answer to one submitted dossier: staged, then published on the call's date."""

    candidature = models.OneToOneField(
        Candidature, on_delete=models.CASCADE, related_name="decision"
    )
    issue = models.CharField(max_length=16, choices=Issue.choices)
    motivation = models.TextField(blank=True)
    retour_jury = models.TextField(
        "retour du jury cité dans le courrier",
        blank=True,
        help_text="Choisi parmi les retours des juré·es destinés à la collectivité.",
    )
    rang_attente = models.PositiveSmallIntegerField(
        "rang sur la liste d'attente", null=True, blank=True
    )
    desistement_at = models.DateTimeField("désistement le", null=True, blank=True)
    desistement_motif = models.TextField("motif du désistement", blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField("décidée le", default=timezone.now)
    published_at = models.DateTimeField("publiée le", null=True, blank=True)
    history = HistoricalRecords()

    objects = DecisionQuerySet.as_manager()

    class Meta:
        verbose_name = "décision"
        verbose_name_plural = "décisions"
        ordering = ["candidature__appel", "issue", "rang_attente", "candidature__numero"]
        constraints = [
            models.CheckConstraint(
                condition=Q(issue="retenue") | ~Q(motivation=""),
                name="decision_motivated_unless_retained",
            ),
            models.CheckConstraint(
                condition=Q(rang_attente__isnull=True) | Q(issue="liste_attente"),
                name="decision_rank_only_on_waiting_list",
            ),
            models.CheckConstraint(
                condition=Q(desistement_at__isnull=True) | ~Q(desistement_motif=""),
                name="decision_withdrawal_has_motif",
            ),
        ]

    def __str__(self):
        return f"{self.candidature} : {self.get_issue_display()}"


class ModeleCourrier(models.Model):
    """The letter text for one outcome of one call, edited by staff (Django template syntax)."""

    appel = models.ForeignKey(Appel, on_delete=models.CASCADE, related_name="modeles_courrier")
    issue = models.CharField(max_length=16, choices=Issue.choices)
    objet = models.CharField("objet", max_length=250)
    corps = models.TextField(
        "texte du courrier",
        help_text="Variables entre doubles accolades, par exemple {{ collectivite }} : voir la "
        "liste sous le champ.",
    )

    class Meta:
        verbose_name = "modèle de courrier"
        verbose_name_plural = "modèles de courrier"
        constraints = [
            models.UniqueConstraint(fields=["appel", "issue"], name="modele_courrier_unique"),
        ]

    def __str__(self):
        return f"{self.appel} — {self.get_issue_display()}"


class Courrier(models.Model):
    """One rendered decision letter, filed with its SHA-256."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="courriers")
    issue = models.CharField(max_length=16, choices=Issue.choices)
    version = models.PositiveSmallIntegerField(default=1)
    pdf = models.FileField(upload_to="courriers/", max_length=200)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "courrier"
        verbose_name_plural = "courriers"
        ordering = ["decision", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "version"], name="courrier_unique_version"),
        ]

    def __str__(self):
        return f"Courrier {self.get_issue_display()} — {self.decision.candidature}"


class EnvoiCourrier(SuiviEnvoi):
    """One e-mail of a letter to one référent·e: what publication retries until it is sent."""

    courrier = models.ForeignKey(Courrier, on_delete=models.CASCADE, related_name="envois")

    class Meta:
        verbose_name = "envoi de courrier"
        verbose_name_plural = "envois de courrier"
        ordering = ["courrier", "destinataire"]
        constraints = [
            models.UniqueConstraint(
                fields=["courrier", "destinataire"], name="envoi_unique_recipient"
            ),
        ]

    def __str__(self):
        return f"{self.destinataire} — {self.get_statut_display()}"
