"""The dossier's messagerie: one thread per candidature between its référent·es and the
Cerdd's team, from the first draft to the decision; never shown to the jury."""

import secrets
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from candidatures.dossiers.models import Candidature, PieceJointe

MAX_TEXT_LENGTH = 5000


def message_upload_to(instance, filename):
    # Unguessable, extension kept; the original name lives in the database.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"messages/{instance.candidature.appel.slug}/{secrets.token_urlsafe(24)}{suffix}"


class MessageQuerySet(models.QuerySet):
    def readable_by(self, user):
        """Messages of the dossiers ``user`` works on (their access rows), or every one for
        staff holding ``view_message``. Jurors, who hold no such permission, read none."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all() if user.has_perm("candidatures.view_message") else self.none()
        return self.filter(candidature__in=Candidature.objects.visible_to(user))

    def demandes_ouvertes(self, now=None):
        now = now or timezone.now()
        return self.filter(nature=Message.Nature.DEMANDE_COMPLEMENT, echeance__gte=now)


class Message(models.Model):
    class Nature(models.TextChoices):
        MESSAGE = "message", "Message"
        DEMANDE_COMPLEMENT = "demande_complement", "Demande de complément"

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="messages")
    nature = models.CharField(max_length=20, choices=Nature.choices, default=Nature.MESSAGE)
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    de_l_equipe = models.BooleanField("écrit par l'équipe du Cerdd", default=False)
    texte = models.TextField(max_length=MAX_TEXT_LENGTH)
    created_at = models.DateTimeField("envoyé le", default=timezone.now)
    # A « demande de complément »: the requested piece may be added until then.
    echeance = models.DateTimeField("à fournir avant le", null=True, blank=True)
    complement_recu_at = models.DateTimeField("complément reçu le", null=True, blank=True)
    # An applicant's answer to a demande: the piece it added to the dossier.
    demande = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reponses"
    )
    piece = models.ForeignKey(
        PieceJointe, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Or a file attached to the message only.
    fichier = models.FileField(upload_to=message_upload_to, max_length=200, blank=True)
    nom_original = models.CharField("nom du fichier", max_length=200, blank=True)
    type_mime = models.CharField(max_length=100, blank=True)
    taille = models.PositiveIntegerField("taille (octets)", null=True, blank=True)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = "message du dossier"
        verbose_name_plural = "messages des dossiers"
        ordering = ["candidature", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(nature="message") | Q(echeance__isnull=False),
                name="message_demande_has_echeance",
            ),
        ]

    def __str__(self):
        return f"{self.get_nature_display()} — {self.candidature}"

    def get_absolute_url(self):
        return reverse("candidatures:messages", args=[self.candidature_id]) + f"#message-{self.pk}"

    def staff_url(self):
        return (
            reverse("admin:candidatures_message_dossier", args=[self.candidature_id])
            + f"#message-{self.pk}"
        )

    @property
    def est_demande(self):
        return self.nature == self.Nature.DEMANDE_COMPLEMENT

    def is_open(self, now=None):
        return self.est_demande and (now or timezone.now()) <= self.echeance

    @property
    def attachment(self):
        """(file field, name, MIME type) of what the message carries, or None."""
        if self.fichier:
            return self.fichier, self.nom_original, self.type_mime
        if self.piece_id and self.piece is not None:
            return self.piece.fichier, self.piece.nom_original, self.piece.type_mime
        return None

    def attachment_name(self):
        attachment = self.attachment
        return attachment[1] if attachment else ""
