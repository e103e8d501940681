from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from candidatures.models import AccesCandidature, Candidature
from cycle.seances.models import Cycle


class ParticipantQuerySet(models.QuerySet):
    def actifs(self):
        return self.exclude(statut=Participant.Statut.RETIRE)

    def of_user(self, user):
        """The participations a signed-in person belongs to (référent·e or binôme member)."""
        if not user.is_authenticated:
            return self.none()
        # Semi-joins rather than joins + DISTINCT, which would compare every column.
        referent = AccesCandidature.objects.filter(candidature=OuterRef("candidature"), user=user)
        # A member is recognised by their linked account or by their e-mail address: someone
        # whose account was created after enrolment, or whom staff added in the admin, has no
        # linked account yet.
        is_member = Q(user=user)
        if user.email:
            is_member |= Q(email__iexact=user.email)
        member = MembreBinome.objects.filter(is_member, participant=OuterRef("pk"))
        return self.filter(Exists(referent) | Exists(member))

    def by_user(self, users) -> dict[int, list[int]]:
        """{user pk: [pks of these participations they belong to]} for several people at
        once, by the rule of ``of_user`` (référent·e of the dossier; binôme member by account
        or by e-mail address, whatever its case): two queries whatever their number."""
        users = list(users)
        result = {user.pk: set() for user in users}
        by_email = {user.email.lower(): user.pk for user in users if user.email}
        referents = AccesCandidature.objects.filter(
            user__in=list(result), candidature__participation__in=self
        ).values_list("candidature__participation", "user_id")
        for participant_id, user_id in referents:
            result[user_id].add(participant_id)
        members = (
            MembreBinome.objects.filter(participant__in=self)
            .annotate(email_lower=Lower("email"))
            .filter(Q(user__in=list(result)) | Q(email_lower__in=list(by_email)))
            .values_list("participant_id", "user_id", "email_lower")
        )
        for participant_id, user_id, email in members:
            if user_id in result:
                result[user_id].add(participant_id)
            if email in by_email:
                result[by_email[email]].add(participant_id)
        return {pk: sorted(pks) for pk, pks in result.items()}


class Participant(models.Model):
    """A retained collectivité taking part in the cycle."""

    class Statut(models.TextChoices):
        A_CONFIRMER = "a_confirmer", "À confirmer"
        CONFIRME = "confirme", "Confirmé"
        RETIRE = "retire", "Retiré"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="participants")
    candidature = models.OneToOneField(
        Candidature, on_delete=models.PROTECT, related_name="participation"
    )
    statut = models.CharField(max_length=12, choices=Statut.choices, default=Statut.A_CONFIRMER)
    confirme_at = models.DateTimeField("confirmé le", null=True, blank=True)
    retire_at = models.DateTimeField("retiré le", null=True, blank=True)
    history = HistoricalRecords()

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        verbose_name = "participant"
        verbose_name_plural = "participants"
        ordering = ["cycle", "candidature__collectivite__nom"]

    def __str__(self):
        return self.candidature.collectivite.nom


class MembreBinome(models.Model):
    """One person a participant sends: élu·e or technicien·ne, titulaire or suppléant·e."""

    class Role(models.TextChoices):
        ELU = "elu", "Élu·e"
        TECHNICIEN = "technicien", "Technicien·ne"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="membres")
    role = models.CharField("rôle", max_length=10, choices=Role.choices)
    titulaire = models.BooleanField(default=True)
    nom = models.CharField("nom et prénom", max_length=150)
    fonction = models.CharField(max_length=200, blank=True)
    email = models.EmailField("e-mail")
    telephone = models.CharField("téléphone", max_length=20, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="binomes",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "membre du binôme"
        verbose_name_plural = "membres des binômes"
        ordering = ["participant", "-titulaire", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "role"],
                condition=Q(titulaire=True),
                name="binome_one_titulaire_per_role",
            ),
        ]

    def __str__(self):
        return f"{self.nom} ({self.get_role_display()})"
