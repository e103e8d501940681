from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cycle.participants.models import Participant
from cycle.seances.models import Cycle, Seance


class EntreeJournalQuerySet(models.QuerySet):
    def readable_by(self, user):
        """Entries a person may read: their own, their binôme partner's « binôme » entries,
        and every shared one of the cycles they take part in. Staff read shared ones only."""
        if not user.is_authenticated:
            return self.none()
        shared = Q(visibilite=EntreeJournal.Visibilite.PARTAGEE)
        if user.is_staff:
            return self.filter(shared)
        mine = Participant.objects.of_user(user)
        their_cycles = Cycle.objects.filter(participants__in=mine)
        return self.filter(
            Q(auteur=user)
            | (Q(visibilite=EntreeJournal.Visibilite.BINOME) & Q(participant__in=mine))
            | (shared & Q(participant__cycle__in=their_cycles))
        )

    def partagees(self):
        return self.filter(visibilite=EntreeJournal.Visibilite.PARTAGEE)


class EntreeJournal(models.Model):
    """One entry of a participant's journal de bord, with the call's four prompts."""

    class Visibilite(models.TextChoices):
        PRIVEE = "privee", "Privée (moi seul·e)"
        BINOME = "binome", "Mon binôme"
        PARTAGEE = "partagee", "Partagée avec tout le cycle"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="journal")
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entrees_journal"
    )
    seance = models.ForeignKey(
        Seance,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entrees_journal",
        help_text="Vide : entre deux séances.",
    )
    points_forts = models.TextField("points forts retenus", blank=True)
    points_vigilance = models.TextField("points de vigilance", blank=True)
    idees = models.TextField("idées", blank=True)
    marges_progression = models.TextField("marges de progression", blank=True)
    visibilite = models.CharField(
        "visibilité", max_length=10, choices=Visibilite.choices, default=Visibilite.PRIVEE
    )
    created_at = models.DateTimeField("écrite le", default=timezone.now)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    history = HistoricalRecords()

    objects = EntreeJournalQuerySet.as_manager()

    class Meta:
        verbose_name = "entrée du journal de bord"
        verbose_name_plural = "entrées du journal de bord"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(points_forts="", points_vigilance="", idees="", marges_progression=""),
                name="journal_at_least_one_prompt",
            ),
        ]

    def __str__(self):
        return f"{self.auteur} — {self.created_at:%d/%m/%Y}"


class ReponseFacilitateur(models.Model):
    """A facilitator's short reply to a shared entry."""

    entree = models.ForeignKey(EntreeJournal, on_delete=models.CASCADE, related_name="reponses")
    auteur = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    texte = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "réponse de l'équipe"
        verbose_name_plural = "réponses de l'équipe"
        ordering = ["entree", "created_at"]

    def __str__(self):
        return self.texte[:50]


class Engagement(models.Model):
    """What a collectivité commits to try on its territory, with its progress."""

    class Nature(models.TextChoices):
        PRESENTATION_ELUS = "presentation", "Présenter les messages du cycle aux élu·es"
        OUTIL = "outil", "Déployer un outil"
        ECHANGE = "echange", "Échanger avec une autre collectivité"
        AMO = "amo", "Mobiliser une assistance à maîtrise d'ouvrage"
        AUTRE = "autre", "Autre"

    class Statut(models.TextChoices):
        PREVU = "prevu", "Prévu"
        EN_COURS = "en_cours", "En cours"
        REALISE = "realise", "Réalisé"
        ABANDONNE = "abandonne", "Abandonné"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="engagements"
    )
    nature = models.CharField(max_length=15, choices=Nature.choices)
    description = models.TextField()
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.PREVU)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "engagement à expérimenter"
        verbose_name_plural = "engagements à expérimenter"
        ordering = ["participant", "created_at"]

    def __str__(self):
        return f"{self.participant} — {self.get_nature_display()}"


class AvancementEngagement(models.Model):
    """A dated progress update of an engagement."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="avancements")
    date = models.DateField(default=timezone.localdate)
    texte = models.TextField()
    statut = models.CharField(max_length=10, choices=Engagement.Statut.choices)
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "avancement"
        verbose_name_plural = "avancements"
        ordering = ["engagement", "date"]

    def __str__(self):
        return f"{self.date:%d/%m/%Y} — {self.get_statut_display()}"
