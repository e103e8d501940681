from django.conf import settings
from django.db import models


class Preference(models.Model):
    """How a person wants to hear of new messages; no row means « immédiat »."""

    class Mode(models.TextChoices):
        IMMEDIAT = "immediat", "Un e-mail à chaque nouveau message"
        RESUME = "resume", "Un résumé quotidien"
        AUCUN = "aucun", "Aucun e-mail (je consulte sur le site)"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference_notification"
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IMMEDIAT)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    class Meta:
        verbose_name = "préférence de notification"
        verbose_name_plural = "préférences de notification"

    def __str__(self):
        return f"{self.user} : {self.get_mode_display()}"


class NotificationQuerySet(models.QuerySet):
    def of_user(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something new for one person: shown until read, e-mailed once (or in the digest)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    titre = models.CharField(max_length=200)
    url = models.CharField("adresse", max_length=500)
    template = models.CharField("modèle d'e-mail", max_length=80, default="notification")
    context = models.JSONField("contexte de l'e-mail", default=dict, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    read_at = models.DateTimeField("lue le", null=True, blank=True)
    emailed_at = models.DateTimeField("envoyée par e-mail le", null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = "notification"
        verbose_name_plural = "notifications"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self):
        return self.titre

    @property
    def path(self) -> str:
        return self.url.split("#", 1)[0]
