"""Le réseau des participant·es: the directory of a cycle (contacts by opt-in only) and the
discussions between its participants.

Who reads what is decided in one place per model: ``Discussion.objects.of_cycle_for`` (the
participant side) and the admin for staff. Every status change (opt-in, revocation, message
hidden) goes through ``cycle.reseau.services``.
"""

import secrets
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cycle.participants.models import MembreBinome, Participant
from cycle.seances.models import Cycle, Seance
from cycle.sondage.models import THEMES_APPEL

MASKED_TEXT = "Message masqué par l'équipe."


class ConsentementAnnuaireQuerySet(models.QuerySet):
    def actifs(self):
        return self.filter(revoque_at__isnull=True)


class ConsentementAnnuaire(models.Model):
    """One person's explicit opt-in to show their e-mail and phone in their cycle's directory.

    A revocation keeps the row (``revoque_at``): the record of what was consented, when, and
    until when. A new opt-in after a revocation is a new row.
    """

    membre = models.ForeignKey(
        MembreBinome, on_delete=models.CASCADE, related_name="consentements_annuaire"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="consentements_annuaire",
        help_text="Le compte qui a donné son accord : la personne elle-même.",
    )
    consenti_at = models.DateTimeField("accord donné le", default=timezone.now)
    revoque_at = models.DateTimeField("accord retiré le", null=True, blank=True)

    objects = ConsentementAnnuaireQuerySet.as_manager()

    class Meta:
        verbose_name = "accord pour l'annuaire"
        verbose_name_plural = "accords pour l'annuaire"
        ordering = ["-consenti_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["membre"],
                condition=Q(revoque_at__isnull=True),
                name="annuaire_one_active_consent_per_member",
            ),
        ]

    def __str__(self):
        return f"{self.membre} — {self.consenti_at:%d/%m/%Y}"


class DiscussionQuerySet(models.QuerySet):
    def of_cycle(self, cycle_id):
        return self.filter(cycle_id=cycle_id)


class Discussion(models.Model):
    """A thread of the cycle's participants, about a theme of the call or a séance."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="discussions")
    titre = models.CharField(max_length=200)
    theme = models.CharField("thème", max_length=30, choices=THEMES_APPEL, blank=True)
    seance = models.ForeignKey(
        Seance,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="discussions",
    )
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        related_name="discussions",
        help_text="La collectivité de la personne qui a ouvert la discussion.",
    )
    auteur_nom = models.CharField("ouverte par", max_length=150)
    created_at = models.DateTimeField("ouverte le", default=timezone.now)

    objects = DiscussionQuerySet.as_manager()

    class Meta:
        verbose_name = "discussion"
        verbose_name_plural = "discussions"
        ordering = ["-created_at"]

    def __str__(self):
        return self.titre


def piece_message_upload_to(instance, filename):
    # Unguessable, extension kept for the browser; the original name lives in the database.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"reseau/{secrets.token_urlsafe(24)}{suffix}"


class MessageReseau(models.Model):
    """One message of a discussion, with at most one attached file.

    Staff may hide it (``masque_at``, with a reason): participants then read « message masqué
    par l'équipe » instead of its text and can no longer download its file.
    """

    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="messages")
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="messages_reseau",
    )
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="messages_reseau"
    )
    # The name the author is shown under (their binôme row's, never their e-mail address),
    # fixed when the message is written.
    auteur_nom = models.CharField("signé", max_length=150)
    texte = models.TextField()
    created_at = models.DateTimeField("écrit le", default=timezone.now)
    fichier = models.FileField(upload_to=piece_message_upload_to, max_length=200, blank=True)
    nom_original = models.CharField("nom du fichier", max_length=200, blank=True)
    type_mime = models.CharField(max_length=100, blank=True)
    taille = models.PositiveIntegerField("taille (octets)", null=True, blank=True)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    masque_at = models.DateTimeField("masqué le", null=True, blank=True)
    masque_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="masqué par",
    )
    masque_motif = models.TextField("motif du masquage", blank=True)
    history = HistoricalRecords(excluded_fields=["fichier"])

    class Meta:
        verbose_name = "message du réseau"
        verbose_name_plural = "messages du réseau"
        ordering = ["discussion", "created_at", "pk"]

    def __str__(self):
        return f"{self.discussion} — {self.created_at:%d/%m/%Y %H:%M}"

    @property
    def masque(self) -> bool:
        return self.masque_at is not None


class Abonnement(models.Model):
    """Someone follows a discussion: told of each new message (``services.notify_followers``,
    by e-mail at once, in the daily digest or not at all: their choice of notifications).

    The author of a discussion and everyone who replies follow it; anyone may follow or stop.
    """

    discussion = models.ForeignKey(Discussion, on_delete=models.CASCADE, related_name="abonnements")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="abonnements_reseau"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "abonnement à une discussion"
        verbose_name_plural = "abonnements aux discussions"
        constraints = [
            models.UniqueConstraint(fields=["discussion", "user"], name="abonnement_unique"),
        ]

    def __str__(self):
        return f"{self.user} → {self.discussion}"
