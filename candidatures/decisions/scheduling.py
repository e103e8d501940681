"""« Programmer la publication »: the worker publishes a call's decisions at its announcement
datetime, whether or not anyone is signed in; staff can cancel it until it starts.

The call keeps when the publication is due (``Appel.publication_programmee_at``) and the id of
its task in the queue (``Appel.publication_tache_id``): cancelling deletes that task while it
is still waiting, under its row lock (a worker that has claimed it holds that lock).
"""

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone

from candidatures.appels.models import Appel
from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.models import Tache
from cerdd_ami.tasks import background, uses_database_queue

from . import publication
from .models import Decision
from .services import _require_staff


def _log(appel, staff_user, message: str) -> None:
    """A line of the call's admin history (« Historique »), as staff's edits write."""
    LogEntry.objects.log_actions(
        user_id=staff_user.pk, queryset=[appel], action_flag=CHANGE, change_message=message
    )


def _when(moment) -> str:
    return f"{format_datetime_fr(moment)} (heure de Paris)"


def schedule_publication(*, appel, staff_user, now=None):
    """Have the worker publish ``appel``'s decisions at its announcement datetime; returns it.

    Refused (ValidationError, French) when the queue is not the database one (nothing would
    run it), the decisions are already published, a publication is already programmed, the
    announcement datetime is past (publish now instead) or there is no decision at all.
    Dossiers still without a decision do not stop it: they must be decided by then, or the
    publication is refused at that time (the task fails, staff see it in the list of tasks).
    Side effects, in one transaction with the call's row locked: the task
    ``publish_scheduled`` enqueued to run at ``announcement_at`` (it exists if and only if
    this commits), its id and datetime stored on the call, a line in the call's history.
    """
    _require_staff(staff_user)
    now = now or timezone.now()
    if not uses_database_queue(publish_scheduled):
        raise ValidationError(
            "La programmation demande la file de tâches en base de données "
            "(TASKS_BACKEND=database) et son worker.",
            code="no_queue",
        )
    with transaction.atomic():
        locked = Appel.objects.select_for_update().get(pk=appel.pk)
        if locked.decisions_published_at is not None:
            raise ValidationError(
                "Les décisions de cet appel sont déjà publiées : rien à programmer.",
                code="published",
            )
        if locked.publication_programmee_at is not None:
            raise ValidationError(
                f"La publication est déjà programmée le {_when(locked.publication_programmee_at)}.",
                code="scheduled",
            )
        if locked.announcement_at <= now:
            raise ValidationError(
                f"La date de réponse aux collectivités ({_when(locked.announcement_at)}) est "
                "passée : publiez les décisions maintenant, avec « Publier les décisions ».",
                code="past",
            )
        if not Decision.objects.filter(candidature__appel=locked).exists():
            raise ValidationError("Aucune décision à publier pour cet appel.", code="empty")
        result = publish_scheduled.using(run_after=locked.announcement_at).enqueue(
            appel_id=locked.pk, staff_user_id=staff_user.pk
        )
        locked.publication_programmee_at = locked.announcement_at
        locked.publication_tache_id = result.id
        locked.save(update_fields=["publication_programmee_at", "publication_tache_id"])
        _log(locked, staff_user, f"Publication programmée le {_when(locked.announcement_at)}.")
    appel.publication_programmee_at = locked.publication_programmee_at
    appel.publication_tache_id = locked.publication_tache_id
    return locked.publication_programmee_at


def cancel_scheduled_publication(*, appel, staff_user) -> None:
    """Cancel the programmed publication of ``appel`` before it starts.

    Refused (ValidationError) when none is programmed, or when the worker has already started
    it. Side effects, in one transaction with the call's and the task's rows locked: the
    waiting task deleted, the call's programme cleared, a line in the call's history.
    """
    _require_staff(staff_user)
    with transaction.atomic():
        locked = Appel.objects.select_for_update().get(pk=appel.pk)
        if locked.publication_programmee_at is None:
            raise ValidationError(
                "Aucune publication n'est programmée pour cet appel.", code="not_scheduled"
            )
        task = (
            Tache.objects.select_for_update().filter(pk=locked.publication_tache_id).first()
            if locked.publication_tache_id
            else None
        )
        if task is not None and task.status == TaskResultStatus.RUNNING:
            raise ValidationError(
                "La publication programmée est en cours : il est trop tard pour l'annuler.",
                code="running",
            )
        if task is not None and task.status == TaskResultStatus.READY:
            task.delete()
        when = locked.publication_programmee_at
        locked.publication_programmee_at = None
        locked.publication_tache_id = ""
        locked.save(update_fields=["publication_programmee_at", "publication_tache_id"])
        _log(locked, staff_user, f"Programmation de la publication du {_when(when)} annulée.")
    appel.publication_programmee_at = None
    appel.publication_tache_id = ""


@background("Publication programmée des décisions", takes_context=True)
def publish_scheduled(context, *, appel_id: int, staff_user_id: int) -> dict:
    """The programmed publication, run by the worker at the announcement datetime.

    Does nothing unless the call's programme names this very task (cancelled, or replaced):
    running it twice publishes once. If the announcement datetime was moved later since, it
    programmes itself again for the new one. Otherwise ``publish_decisions_in_background``
    (decisions published, letters' task enqueued) in the name of the staff member who
    programmed it, then the programme is cleared and a line added to the call's history.
    A refusal (a dossier without decision) raises: the worker retries it with back-off, and
    staff see the error in the list of tasks; the programme stays shown until it succeeds.
    The first refusal is e-mailed to the staff member who programmed it (or the call's
    contact), since nobody may be looking when it happens.
    """
    task_id = str(context.task_result.id)
    with transaction.atomic():
        appel = Appel.objects.select_for_update().get(pk=appel_id)
        if appel.publication_tache_id != task_id:
            return {"publiees": 0, "ignoree": "programmation annulée ou remplacée"}
        if timezone.now() < appel.announcement_at:
            result = publish_scheduled.using(run_after=appel.announcement_at).enqueue(
                appel_id=appel.pk, staff_user_id=staff_user_id
            )
            appel.publication_programmee_at = appel.announcement_at
            appel.publication_tache_id = result.id
            appel.save(update_fields=["publication_programmee_at", "publication_tache_id"])
            return {"publiees": 0, "reportee_au": appel.announcement_at.isoformat()}
    staff_user = (
        get_user_model().objects.filter(pk=staff_user_id, is_active=True, is_staff=True).first()
    )
    try:
        report = publication.publish_decisions_in_background(appel=appel, staff_user=staff_user)
    except ValidationError as refusal:
        if context.attempt == 1:  # told once; the retries and « Relancer » say nothing more
            _tell_refused(appel, staff_user, refusal)
        raise
    with transaction.atomic():
        cleared = Appel.objects.filter(pk=appel_id, publication_tache_id=task_id).update(
            publication_programmee_at=None, publication_tache_id=""
        )
        if cleared and staff_user is not None:
            _log(
                appel,
                staff_user,
                f"Publication programmée effectuée : {report.published} décision(s) publiée(s).",
            )
    return {"publiees": report.published}


def _tell_refused(appel, staff_user, refusal: ValidationError) -> None:
    to = staff_user.email if staff_user is not None else appel.contact_email
    if not to:
        return
    context = {
        "appel": appel.titre,
        "prevue_le": format_datetime_fr(appel.announcement_at),
        "raisons": refusal.messages,
        "minutes": sum(settings.TASKS_RETRY_DELAYS) // 60,
        "lien": site_url(
            reverse("admin:candidatures_decision_changelist")
            + f"?candidature__appel__id__exact={appel.pk}"
        ),
    }
    build_email("publication_refusee", context, to=[to]).send()
