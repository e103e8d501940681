import secrets
import zoneinfo
from datetime import datetime
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from candidatures.models import Appel, Collectivite
from cerdd_ami.models import SuiviEnvoi

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


class Cycle(models.Model):
    """The qualification cycle that follows one call."""

    appel = models.OneToOneField(
        Appel, on_delete=models.PROTECT, related_name="cycle_qualification"
    )
    titre = models.CharField(max_length=250)
    seances_min_attestation = models.PositiveSmallIntegerField(
        "séances minimum pour l'attestation", default=5
    )
    jours_avant_note = models.PositiveSmallIntegerField(
        "envoi de la note de contexte (jours avant la séance)", default=10
    )

    class Meta:
        verbose_name = "cycle"
        verbose_name_plural = "cycles"

    def __str__(self):
        return self.titre

    def current_seance(self, now=None):
        """The last séance held (started, see ``SeanceQuerySet.started``), or None before the
        first one: the séance « since » which the journal is being written."""
        return self.seances.started(now).by_start().last()

    def next_seance(self, now=None):
        """The first séance not started yet, or None once the last one has started."""
        return self.seances.upcoming(now).by_start().first()


def _started_q(now=None) -> Q:
    now = timezone.localtime(now or timezone.now(), PARIS)
    return Q(date__lt=now.date()) | Q(date=now.date(), heure_debut__lte=now.time())


class SeanceQuerySet(models.QuerySet):
    """The one rule of « held » séances: a séance has started (and counts as held) from its
    date and ``heure_debut``, Paris time; before that it is to come, whatever its état says
    (staff may forget to mark it « tenue », or postpone it without changing the état)."""

    def started(self, now=None):
        return self.filter(_started_q(now))

    def upcoming(self, now=None):
        return self.exclude(_started_q(now))

    def by_start(self):
        return self.order_by("date", "heure_debut", "numero")


class Seance(models.Model):
    class Etat(models.TextChoices):
        PREVUE = "prevue", "Prévue"
        CONFIRMEE = "confirmee", "Confirmée"
        TENUE = "tenue", "Tenue"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="seances")
    numero = models.PositiveSmallIntegerField("numéro")
    date = models.DateField()
    heure_debut = models.TimeField("début", default="09:30")
    heure_fin = models.TimeField("fin", default="16:30")
    lieu = models.CharField(max_length=200, blank=True)
    adresse = models.CharField(max_length=250, blank=True)
    collectivite_hote = models.ForeignKey(
        Collectivite,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="collectivité hôte",
    )
    themes = models.TextField("thème(s)", blank=True)
    programme_matin = models.TextField("matinée", blank=True)
    programme_dejeuner = models.TextField("déjeuner", blank=True, default="Déjeuner en commun.")
    programme_apres_midi = models.TextField("après-midi", blank=True)
    etat = models.CharField("état", max_length=10, choices=Etat.choices, default=Etat.PREVUE)
    note_contexte = models.TextField("note de contexte", blank=True)
    note_contexte_fichier = models.FileField(
        "note de contexte (fichier)", upload_to="notes/", blank=True
    )
    note_envoyee_at = models.DateTimeField("note envoyée le", null=True, blank=True)

    objects = SeanceQuerySet.as_manager()

    class Meta:
        verbose_name = "séance"
        verbose_name_plural = "séances"
        ordering = ["cycle", "numero"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "numero"], name="seance_unique_numero"),
            models.CheckConstraint(
                condition=Q(heure_debut__lt=models.F("heure_fin")), name="seance_hours_ordered"
            ),
        ]

    def __str__(self):
        return f"Séance {self.numero} — {self.date:%d/%m/%Y}"

    @property
    def starts_at(self) -> datetime:
        """Its date and ``heure_debut``, Paris time (aware)."""
        return datetime.combine(self.date, self.heure_debut, tzinfo=PARIS)

    def has_started(self, now=None) -> bool:
        """The same rule as ``SeanceQuerySet.started``, on a séance already fetched."""
        return self.starts_at <= (now or timezone.now())

    @staticmethod
    def held_at(seances, moment):
        """Among ``seances`` (already fetched), the last one started at ``moment``, or None:
        the « current séance » of that moment (``Cycle.current_seance`` on a list)."""
        started = [s for s in seances if s.has_started(moment)]
        return max(started, key=lambda s: (s.starts_at, s.numero), default=None)

    @staticmethod
    def next_after(seances, moment):
        """Among ``seances``, the first one not started at ``moment`` (``Cycle.next_seance``)."""
        upcoming = [s for s in seances if not s.has_started(moment)]
        return min(upcoming, key=lambda s: (s.starts_at, s.numero), default=None)


def document_seance_upload_to(instance, filename):
    # Unguessable, extension kept for the browser; the original name lives in the database
    # (like an applicant's supporting documents, candidatures.models.piece_upload_to).
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"seances/{instance.seance_id}/{secrets.token_urlsafe(24)}{suffix}"


class DocumentSeance(models.Model):
    """A document staff share with the participants on a séance's page (slides, readings…)."""

    seance = models.ForeignKey(
        Seance, on_delete=models.CASCADE, related_name="documents", verbose_name="séance"
    )
    titre = models.CharField(max_length=200)
    fichier = models.FileField(upload_to=document_seance_upload_to, max_length=200)
    nom_original = models.CharField("nom du fichier", max_length=200)
    type_mime = models.CharField("type", max_length=100)
    taille = models.PositiveIntegerField("taille (octets)")
    added_at = models.DateTimeField("ajouté le", default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="ajouté par",
    )

    class Meta:
        verbose_name = "document de séance"
        verbose_name_plural = "documents de séance"
        ordering = ["seance", "added_at", "pk"]

    def __str__(self):
        return self.titre

    def get_admin_url(self):
        return reverse("admin:cycle_seance_document", args=[self.seance_id, self.pk])


class EnvoiNoteContexte(SuiviEnvoi):
    """One context note e-mailed to one person (see SuiviEnvoi: attempts, failure retried)."""

    seance = models.ForeignKey(Seance, on_delete=models.CASCADE, related_name="envois_note")

    class Meta:
        verbose_name = "envoi de note de contexte"
        verbose_name_plural = "envois de notes de contexte"
        constraints = [
            models.UniqueConstraint(fields=["seance", "destinataire"], name="envoi_note_unique"),
        ]

    def __str__(self):
        return f"{self.seance} → {self.destinataire} — {self.get_statut_display()}"
