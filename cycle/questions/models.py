"""« Questions au Cerdd »: a participant's question to the team between séances, its answer,
and the cycle's FAQ (answers useful to all, published without the asker's identity)."""

import secrets
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from cycle.participants.models import Participant
from cycle.seances.models import Cycle, Seance

MAX_TEXT_LENGTH = 5000


def question_upload_to(instance, filename):
    # Unguessable, extension kept; the original name lives in the database.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"questions/{instance.participant.cycle_id}/{secrets.token_urlsafe(24)}{suffix}"


class QuestionCerddQuerySet(models.QuerySet):
    def en_attente(self):
        return self.filter(repondue_at__isnull=True)

    def of_participant(self, participant):
        return self.filter(participant=participant)


class QuestionCerdd(models.Model):
    """A question a participant's référent·e or binôme member asks the Cerdd's team."""

    class Etat(models.TextChoices):
        EN_ATTENTE = "en_attente", "En attente"
        REPONDUE = "repondue", "Répondue"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="questions")
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    seance = models.ForeignKey(
        Seance,
        verbose_name="séance",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="questions",
    )
    texte = models.TextField("question", max_length=MAX_TEXT_LENGTH)
    created_at = models.DateTimeField("posée le", default=timezone.now)
    fichier = models.FileField(upload_to=question_upload_to, max_length=200, blank=True)
    nom_original = models.CharField("nom du fichier", max_length=200, blank=True)
    type_mime = models.CharField(max_length=100, blank=True)
    taille = models.PositiveIntegerField("taille (octets)", null=True, blank=True)
    sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="confiée à",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="questions_confiees",
        limit_choices_to={"is_staff": True, "is_active": True},
    )
    reponse = models.TextField("réponse", max_length=MAX_TEXT_LENGTH, blank=True)
    repondue_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="répondue par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    repondue_at = models.DateTimeField("répondue le", null=True, blank=True)

    objects = QuestionCerddQuerySet.as_manager()

    class Meta:
        verbose_name = "question au Cerdd"
        verbose_name_plural = "questions au Cerdd"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        extrait = self.texte[:60] + ("…" if len(self.texte) > 60 else "")
        return f"{self.participant} — {extrait}"

    def get_absolute_url(self):
        return reverse("cycle:questions", args=[self.participant_id]) + f"#question-{self.pk}"

    @property
    def etat(self) -> str:
        return self.Etat.REPONDUE if self.repondue_at else self.Etat.EN_ATTENTE

    def get_etat_display(self) -> str:
        return self.Etat(self.etat).label

    def staff_url(self):
        return reverse("admin:cycle_questioncerdd_repondre", args=[self.pk])


class EntreeFAQQuerySet(models.QuerySet):
    def of_cycle(self, cycle):
        return self.filter(cycle=cycle)


class EntreeFAQ(models.Model):
    """An answer useful to all, published to the cycle's participants without the asker's
    identity; ``question_texte`` is the question as staff rewrote it (no names)."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="faq")
    question = models.OneToOneField(
        QuestionCerdd,
        verbose_name="question d'origine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entree_faq",
    )
    question_texte = models.TextField("question", max_length=MAX_TEXT_LENGTH)
    reponse = models.TextField("réponse", max_length=MAX_TEXT_LENGTH)
    publiee_at = models.DateTimeField("publiée le", default=timezone.now)
    publiee_par = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="publiée par",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )

    objects = EntreeFAQQuerySet.as_manager()

    class Meta:
        verbose_name = "entrée de la FAQ du cycle"
        verbose_name_plural = "FAQ des cycles"
        ordering = ["cycle", "-publiee_at", "-pk"]

    def __str__(self):
        return self.question_texte[:80]
