"""The jury: its members, their assignments and conflicts of interest, their évaluations."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.appels.models import Appel, Collectivite, Critere
from candidatures.dossiers.models import Candidature
from cerdd_ami.models import SuiviEnvoi


class MembreJury(models.Model):
    """A juror of one call, optionally tied to the collectivité they belong to (conflicts)."""

    appel = models.ForeignKey(Appel, on_delete=models.CASCADE, related_name="membres_jury")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jurys"
    )
    collectivite = models.ForeignKey(
        Collectivite,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="collectivité d'appartenance",
        help_text="Sa commune ou son EPCI : ses dossiers et ceux qui y sont liés lui sont cachés.",
    )
    qualite = models.CharField("qualité", max_length=200, blank=True)

    class Meta:
        verbose_name = "membre du jury"
        verbose_name_plural = "membres du jury"
        ordering = ["appel", "user__last_name", "user__first_name"]
        constraints = [
            models.UniqueConstraint(fields=["appel", "user"], name="membre_jury_unique"),
        ]

    def __str__(self):
        return str(self.user)


class Affectation(models.Model):
    """A dossier given to a juror when the call does not have every juror score everything."""

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="affectations"
    )
    jure = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="affectations",
        verbose_name="juré·e",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "affectation"
        verbose_name_plural = "affectations"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "jure"], name="affectation_unique"),
        ]

    def __str__(self):
        return f"{self.candidature} → {self.jure}"


class ConflitInteret(models.Model):
    class Origine(models.TextChoices):
        DETECTE = "detecte", "Détecté (même collectivité, ou commune et son EPCI)"
        DECLARE = "declare", "Déclaré par le ou la juré·e"

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="conflits")
    jure = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="conflits",
        verbose_name="juré·e",
    )
    origine = models.CharField(max_length=10, choices=Origine.choices)
    motif = models.TextField()
    created_at = models.DateTimeField("enregistré le", default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "conflit d'intérêts"
        verbose_name_plural = "conflits d'intérêts"
        ordering = ["candidature", "jure"]
        constraints = [
            models.UniqueConstraint(fields=["candidature", "jure"], name="conflit_unique"),
            models.CheckConstraint(condition=~Q(motif=""), name="conflit_has_reason"),
        ]

    def __str__(self):
        return f"{self.jure} / {self.candidature.collectivite.nom}"


class Recommandation(models.TextChoices):
    RETENIR = "retenir", "Retenir"
    LISTE_ATTENTE = "attente", "Liste d'attente"
    NE_PAS_RETENIR = "ne_pas_retenir", "Ne pas retenir"


class EvaluationQuerySet(models.QuerySet):
    def soumises(self):
        return self.filter(statut=Evaluation.Statut.SOUMISE)

    def counted(self):
        """Évaluations that enter aggregates: submitted, and not by a juror in conflict."""
        conflicts = ConflitInteret.objects.filter(
            candidature=models.OuterRef("candidature"), jure=models.OuterRef("jure")
        )
        return self.soumises().exclude(models.Exists(conflicts))


class Evaluation(models.Model):
    class Statut(models.TextChoices):
        BROUILLON = "brouillon", "Brouillon"
        SOUMISE = "soumise", "Soumise"

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="evaluations"
    )
    jure = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="evaluations",
        verbose_name="juré·e",
    )
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.BROUILLON)
    commentaire_prive = models.TextField("commentaire pour le jury", blank=True)
    retour_collectivite = models.TextField(
        "retour pour la collectivité",
        blank=True,
        help_text="Peut être cité dans le courrier de décision.",
    )
    recommandation = models.CharField(max_length=16, choices=Recommandation.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField("soumise le", null=True, blank=True)
    history = HistoricalRecords()

    objects = EvaluationQuerySet.as_manager()

    class Meta:
        verbose_name = "évaluation"
        verbose_name_plural = "évaluations"
        ordering = ["candidature", "jure"]
        constraints = [
            models.UniqueConstraint(fields=["candidature", "jure"], name="evaluation_unique"),
            models.CheckConstraint(
                condition=Q(statut="brouillon")
                | (Q(submitted_at__isnull=False) & ~Q(recommandation="")),
                name="evaluation_submitted_is_complete",
            ),
        ]

    def __str__(self):
        return f"{self.jure} — {self.candidature}"


class Note(models.Model):
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="notes")
    critere = models.ForeignKey(Critere, on_delete=models.PROTECT, related_name="notes")
    valeur = models.PositiveSmallIntegerField(null=True, blank=True)
    commentaire = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "note"
        verbose_name_plural = "notes"
        ordering = ["evaluation", "critere__ordre"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "critere"], name="note_unique"),
            models.CheckConstraint(
                condition=Q(valeur__isnull=True) | Q(valeur__lte=20), name="note_in_range"
            ),
        ]

    def __str__(self):
        return f"{self.critere.libelle} : {self.valeur}"


class DossierJury(Candidature):
    """A submitted dossier as a juror sees it in the admin: read-only, with its évaluation."""

    class Meta:
        proxy = True
        verbose_name = "dossier à évaluer"
        verbose_name_plural = "dossiers à évaluer"


class RappelJury(SuiviEnvoi):
    """One reminder e-mail to one juror, written when staff click « Relancer » and sent once by
    the worker (a retry never sends it twice)."""

    appel = models.ForeignKey(Appel, on_delete=models.CASCADE, related_name="rappels_jury")
    jure = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    restants = models.PositiveSmallIntegerField("dossiers restant à évaluer")
    created_at = models.DateTimeField("demandé le", default=timezone.now)

    class Meta:
        verbose_name = "rappel au jury"
        verbose_name_plural = "rappels au jury"
        ordering = ["-created_at", "pk"]

    def __str__(self):
        return f"{self.destinataire} — {self.get_statut_display()}"
