from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cycle.participants.models import MembreBinome
from cycle.seances.models import Seance


class Presence(models.Model):
    class Statut(models.TextChoices):
        PRESENT = "present", "Présent·e"
        ABSENT = "absent", "Absent·e"
        EXCUSE = "excuse", "Excusé·e"
        REMPLACE = "remplace", "Remplacé·e"

    seance = models.ForeignKey(Seance, on_delete=models.CASCADE, related_name="presences")
    membre = models.ForeignKey(MembreBinome, on_delete=models.CASCADE, related_name="presences")
    statut = models.CharField(max_length=10, choices=Statut.choices)
    remplacant = models.ForeignKey(
        MembreBinome,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="remplacements",
        verbose_name="remplacé·e par",
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "présence"
        verbose_name_plural = "présences"
        constraints = [
            models.UniqueConstraint(fields=["seance", "membre"], name="presence_unique"),
            models.CheckConstraint(
                condition=Q(statut="remplace", remplacant__isnull=False)
                | (~Q(statut="remplace") & Q(remplacant__isnull=True)),
                name="presence_replacement_named",
            ),
        ]

    def __str__(self):
        return f"{self.membre} — {self.seance} : {self.get_statut_display()}"
