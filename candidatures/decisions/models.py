"""The Cerdd's decisions on submitted dossiers and the letters that announce them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.appels.models import Appel
from candidatures.dossiers.models import Candidature
from cerdd_ami.formats import format_datetime_fr
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


class ExportQuerySet(models.QuerySet):
    def readable_by(self, user):
        """The exports ``user`` may follow and download: their own (staff with the view
        permission); everyone's with « view_team_exports »; nothing for anyone else."""
        if not (user.is_active and user.is_staff and user.has_perm("candidatures.view_export")):
            return self.none()
        if user.has_perm("candidatures.view_team_exports"):
            return self
        return self.filter(requested_by=user)


class Export(models.Model):
    """A document staff asked for that the worker prepares: decision letters above
    ``settings.LETTERS_PER_REQUEST`` (one PDF or a ZIP), a large call's procès-verbal.

    Its status changes only through ``candidatures.decisions.exports``; the file is private,
    served by the export's scoped download view once « prêt ».
    """

    class Kind(models.TextChoices):
        LETTRES_PDF = "lettres_pdf", "Courriers (PDF fusionné)"
        LETTRES_ZIP = "lettres_zip", "Courriers (ZIP)"
        PROCES_VERBAL = "proces_verbal", "Procès-verbal du jury"

    class Statut(models.TextChoices):
        EN_ATTENTE = "en_attente", "En attente"
        EN_COURS = "en_cours", "En préparation"
        PRET = "pret", "Prêt"
        ECHEC = "echec", "Échec"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="exports",
        verbose_name="demandé par",
    )
    kind = models.CharField("document", max_length=16, choices=Kind.choices)
    appel = models.ForeignKey(
        Appel, on_delete=models.CASCADE, null=True, blank=True, related_name="exports"
    )
    parametres = models.JSONField(default=dict, blank=True)
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.EN_ATTENTE)
    fait = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    etape = models.CharField("étape", max_length=60, blank=True)
    fichier = models.FileField(upload_to="exports/", max_length=200, blank=True)
    erreur = models.TextField(blank=True)
    created_at = models.DateTimeField("demandé le", default=timezone.now)
    finished_at = models.DateTimeField("terminé le", null=True, blank=True)
    notifie_at = models.DateTimeField("e-mail envoyé le", null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        verbose_name = "export"
        verbose_name_plural = "exports"
        ordering = ["-created_at", "-pk"]
        permissions = [("view_team_exports", "Peut suivre et télécharger les exports de l'équipe")]

    def __str__(self):
        return f"{self.get_kind_display()} — {format_datetime_fr(self.created_at)}"

    @property
    def is_letters(self) -> bool:
        return self.kind in (self.Kind.LETTRES_PDF, self.Kind.LETTRES_ZIP)

    @property
    def etat_label(self) -> str:
        """« Export en préparation : 37 / 120 courriers », « Procès-verbal prêt »…"""
        name = "Export" if self.is_letters else "Procès-verbal"
        if self.statut == self.Statut.PRET:
            count = f" : {self.total} courrier{'s' if self.total > 1 else ''}"
            return f"{name} prêt{count if self.is_letters else ''}"
        if self.statut == self.Statut.ECHEC:
            return f"{name} en échec"
        label = f"{name} en préparation"
        if self.is_letters:
            label += f" : {self.fait} / {self.total} courriers"
        if self.etape and self.statut == self.Statut.EN_COURS:
            label += f" ({self.etape})"
        return label
