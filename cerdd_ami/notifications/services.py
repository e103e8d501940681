"""Workflows of notifications: create them, read them, e-mail them (at once or in a digest),
unsubscribe. See the package's docstring for the API other packages use."""

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from cerdd_ami.emails import build_email, site_url
from cerdd_ami.tasks import background, enqueue

from .models import Notification, Preference

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "cerdd_ami.notifications.unsubscribe"
# The digest gathers what arrived since the last one; older unsent notifications (a digest
# chosen long after they came) are not e-mailed: they wait on the site.
DIGEST_WINDOW = timedelta(days=7)


# ---------------------------------------------------------------------------------------------
# Preferences and the unsubscribe token


def mode_of(user) -> str:
    preference = Preference.objects.filter(user=user).only("mode").first()
    return preference.mode if preference else Preference.Mode.IMMEDIAT


@transaction.atomic
def set_preference(*, user, mode) -> Preference:
    """Record ``user``'s choice (``Preference.Mode``). Side effects: creates or updates the
    user's Preference row. No e-mail."""
    if mode not in Preference.Mode.values:
        raise ValueError(f"Mode de notification inconnu : {mode!r}")
    preference, _created = Preference.objects.update_or_create(user=user, defaults={"mode": mode})
    return preference


def unsubscribe_token(user) -> str:
    """A signed token naming ``user`` (and their address: it dies if the address changes)."""
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=UNSUBSCRIBE_SALT)


def user_from_token(token: str):
    """The user an unsubscribe token names, or None when it is forged or outdated."""
    from django.contrib.auth import get_user_model

    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user = get_user_model().objects.filter(pk=data.get("u")).first()
    if user is None or user.email.lower() != data.get("e"):
        return None
    return user


def unsubscribe_url(user) -> str:
    return site_url(reverse("notifications:desabonnement", args=[unsubscribe_token(user)]))


# ---------------------------------------------------------------------------------------------
# Creating and reading


def notify(*, recipients, titre, url, template="notification", context=None) -> list:
    """Tell each of ``recipients`` (Users; duplicates and inactive accounts skipped) that
    something new waits at ``url`` (a local path).

    Side effects, in the caller's transaction: one Notification per recipient and their
    unread counter (``User.notifications_non_lues``) one higher; for each recipient whose
    preference is « immédiat », the task ``send_notification`` is enqueued (it runs once the
    transaction commits and e-mails that one notification). Digest and « aucun » recipients
    get no task here (``send_digests`` collects the former). Returns the notifications
    created.
    """
    with transaction.atomic():
        seen, notifications = set(), []
        for user in recipients:
            if user is None or user.pk in seen or not user.is_active:
                continue
            seen.add(user.pk)
            notifications.append(
                Notification.objects.create(
                    user=user, titre=titre[:200], url=url, template=template, context=context or {}
                )
            )
        if seen:
            get_user_model().objects.filter(pk__in=seen).update(
                notifications_non_lues=F("notifications_non_lues") + 1
            )
        immediate = set(
            Preference.objects.filter(user__in=seen)
            .exclude(mode=Preference.Mode.IMMEDIAT)
            .values_list("user_id", flat=True)
        )
        for notification in notifications:
            if notification.user_id not in immediate:
                enqueue(send_notification, notification_id=notification.pk)
    return notifications


def _path_filter(url: str) -> Q:
    path = url.split("#", 1)[0].split("?", 1)[0]
    return Q(url=path) | Q(url__startswith=path + "#")


def mark_read(*, user, url) -> int:
    """``user`` opened the page at ``url``: its unread notifications are read now. Returns how
    many. Side effects: one UPDATE of the user's Notification rows and, when some were
    unread, their unread counter lowered as much (on ``user`` too, for this page's menu)."""
    if not user.is_authenticated:
        return 0
    # One transaction for both UPDATEs, without a savepoint: most pages read nothing.
    with transaction.atomic(savepoint=False):
        read = (
            Notification.objects.of_user(user)
            .unread()
            .filter(_path_filter(url))
            .update(read_at=timezone.now())
        )
        _lower_unread(user, read)
    return read


def mark_all_read(*, user) -> int:
    """Every unread notification of ``user`` is read now; returns how many. Side effects: one
    UPDATE of their Notification rows, their unread counter lowered as much."""
    # One transaction for both UPDATEs, without a savepoint: most pages read nothing.
    with transaction.atomic(savepoint=False):
        read = Notification.objects.of_user(user).unread().update(read_at=timezone.now())
        _lower_unread(user, read)
    return read


def _lower_unread(user, read: int) -> None:
    if read:
        _lower_counter(user.pk, read)
        user.notifications_non_lues = max(user.notifications_non_lues - read, 0)


def _lower_counter(user_pk: int, by: int) -> None:
    # By how many rows went, not to zero: a notification created meanwhile stays counted.
    get_user_model().objects.filter(pk=user_pk).update(
        notifications_non_lues=Greatest(F("notifications_non_lues") - by, 0)
    )


# A notification is a pointer to a page, with a title that names people (« Nouveau message de
# … »): kept for a year, long enough to find any message again from « Mes notifications ».
RETENTION_DAYS = 365
PURGED = "Avis de nouveauté (notifications) créés il y a plus de 12 mois"


def purge_old_notifications(*, now=None) -> dict[str, int]:
    """Delete the notifications created more than ``RETENTION_DAYS`` ago; returns their count
    (a retention rule of ``candidatures.retention.purge``, which registers it).

    Side effects, in the caller's transaction: DELETE of those rows; each person's unread
    counter lowered by their unread ones among them.
    """
    cutoff = (now or timezone.now()) - timedelta(days=RETENTION_DAYS)
    return {PURGED: _delete(Notification.objects.filter(created_at__lt=cutoff))}


def withdraw(*, template, anchor) -> int:
    """What the notifications of ``template`` pointing at ``#<anchor>`` announced is gone (a
    message hidden by the team): those nobody has read nor received by e-mail yet are
    deleted, so no digest lists them and no menu counts them; returns how many.

    Side effects, in the caller's transaction: DELETE of those rows, each person's unread
    counter lowered as much; a pending immediate e-mail then finds no row and sends nothing.
    Notifications already e-mailed or read stay: they lead to the page, which says what
    happened.
    """
    return _delete(
        Notification.objects.filter(
            template=template,
            url__endswith=f"#{anchor}",
            emailed_at__isnull=True,
            read_at__isnull=True,
        )
    )


def _delete(notifications) -> int:
    with transaction.atomic(savepoint=False):
        unread = notifications.filter(read_at__isnull=True).values("user").annotate(n=Count("pk"))
        for row in unread.order_by():
            _lower_counter(row["user"], row["n"])
        deleted, _by_model = notifications.delete()
    return deleted


def unread_count(user) -> int:
    """The menu's count, as kept on the user by ``notify`` and the ``mark_*`` services."""
    return user.notifications_non_lues


# ---------------------------------------------------------------------------------------------
# E-mails


def _with_unsubscribe(message, user):
    link = unsubscribe_url(user)
    message.extra_headers["List-Unsubscribe"] = f"<{link}>"
    message.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def _common_context(user) -> dict:
    return {
        "preferences_url": site_url(reverse("notifications:mes_notifications")),
        "unsubscribe_url": unsubscribe_url(user),
        "site_url": site_url(""),
    }


def build_notification_email(notification):
    user = notification.user
    context = {
        **notification.context,
        **_common_context(user),
        "titre": notification.titre,
        "url": site_url(notification.url),
    }
    message = build_email(notification.template, context, to=[user.email])
    return _with_unsubscribe(message, user)


@background("Notification par e-mail")
def send_notification(*, notification_id: int) -> bool:
    """E-mail one notification to its recipient, if they still want it at once.

    Idempotent: the row is locked and stamped ``emailed_at`` in the same transaction as the
    sending; a notification already e-mailed, already read, or whose recipient now chose the
    digest or nothing is left alone. A mail server failure raises: the worker retries.
    Returns whether an e-mail left.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.emailed_at or notification.read_at:
            return False
        user = notification.user
        if not user.is_active or mode_of(user) != Preference.Mode.IMMEDIAT:
            return False
        build_notification_email(notification).send()
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at"])
    return True


def send_digest(*, user, now=None) -> int:
    """E-mail ``user`` one message listing their notifications not e-mailed nor read yet
    (those of the last DIGEST_WINDOW); returns how many it lists (0: no e-mail).

    Side effects, in one transaction with the rows locked: the e-mail, then ``emailed_at`` on
    each notification listed, so that a second run lists nothing again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(user=user, emailed_at__isnull=True, read_at__isnull=True)
            .filter(created_at__gte=now - DIGEST_WINDOW, created_at__lte=now)
            .order_by("created_at", "pk")
        )
        if not pending:
            return 0
        context = {
            **_common_context(user),
            "notifications": [
                {"titre": n.titre, "url": site_url(n.url), "created_at": n.created_at}
                for n in pending
            ],
        }
        _with_unsubscribe(
            build_email("notifications_resume", context, to=[user.email]), user
        ).send()
        Notification.objects.filter(pk__in=[n.pk for n in pending]).update(emailed_at=now)
    return len(pending)


@background("Résumé quotidien des notifications")
def send_digests() -> dict:
    """The daily run (``PERIODIC_TASKS``): one digest per person who chose it and has
    something new. Idempotent (see ``send_digest``); one person's failure is logged and does
    not stop the others, whose digest is retried by the next run."""
    now = timezone.now()
    users = (
        Preference.objects.filter(mode=Preference.Mode.RESUME, user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    )
    report = {"resumes": 0, "notifications": 0, "echecs": 0}
    for preference in users:
        try:
            count = send_digest(user=preference.user, now=now)
        except Exception as error:  # a mail server failure: this person's digest waits
            logger.warning("Résumé de notifications pour %s en échec : %s", preference.user, error)
            report["echecs"] += 1
            continue
        report["resumes"] += bool(count)
        report["notifications"] += count
    return report
