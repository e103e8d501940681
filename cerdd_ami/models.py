import logging

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

logger = logging.getLogger(__name__)


class EmailUserManager(UserManager):
    """Users are identified by their e-mail address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("L'adresse e-mail est obligatoire.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractUser):
    username = None
    email = models.EmailField("adresse e-mail", unique=True)
    # Kept by cerdd_ami.notifications.services (the only code that creates or reads a
    # Notification): the menu of every page shows it without a query of its own.
    notifications_non_lues = models.PositiveIntegerField(
        "notifications non lues", default=0, editable=False
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = EmailUserManager()

    class Meta:
        verbose_name = "utilisateur·rice"
        verbose_name_plural = "utilisateur·rices"
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email


class SuiviEnvoi(models.Model):
    """One e-mail to one address, tracked until it is sent: every attempt counted, a failure
    kept with its error and retried by the next run, never sent twice once « envoyé »."""

    class Statut(models.TextChoices):
        A_ENVOYER = "a_envoyer", "À envoyer"
        ENVOYE = "envoye", "Envoyé"
        ECHEC = "echec", "Échec"

    destinataire = models.EmailField()
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.A_ENVOYER)
    tentatives = models.PositiveSmallIntegerField(default=0)
    derniere_tentative_at = models.DateTimeField(null=True, blank=True)
    envoye_at = models.DateTimeField(null=True, blank=True)
    erreur = models.TextField(blank=True)

    class Meta:
        abstract = True

    def attempt(self, build_message, *, now) -> bool:
        """Build and send the message (``build_message()``), record the attempt on this row
        (saved) and return whether it went. Call it with the row locked, so that a concurrent
        run cannot send it too."""
        self.tentatives += 1
        self.derniere_tentative_at = now
        try:
            build_message().send()
        except Exception as error:  # mail server, network, unreadable file: recorded, retried
            logger.warning(
                "%s à %s en échec : %s", self._meta.verbose_name, self.destinataire, error
            )
            self.statut = self.Statut.ECHEC
            self.erreur = f"{type(error).__name__} : {error}"
        else:
            self.statut = self.Statut.ENVOYE
            self.envoye_at = now
            self.erreur = ""
        self.save(
            update_fields=["statut", "tentatives", "derniere_tentative_at", "envoye_at", "erreur"]
        )
        return self.statut == self.Statut.ENVOYE


from .notifications.models import Notification, Preference  # noqa: E402,F401
from .tasks.models import Tache  # noqa: E402,F401 - the background tasks, in the admin
