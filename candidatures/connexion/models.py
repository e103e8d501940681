"""Password-less sign-in: requests for a link, kept to throttle them."""

from django.db import models
from django.utils import timezone


class DemandeLienConnexion(models.Model):
    """One request for a sign-in link, kept to throttle per address and per IP."""

    email = models.EmailField()
    ip = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "demande de lien de connexion"
        verbose_name_plural = "demandes de lien de connexion"
        indexes = [
            models.Index(fields=["email", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]

    def __str__(self):
        return f"{self.email} — {self.created_at:%d/%m/%Y %H:%M}"
