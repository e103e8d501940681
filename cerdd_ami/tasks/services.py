from django.db import transaction
from django.tasks import TaskResultStatus
from django.utils import timezone

from .models import Tache


def relaunch(*, task_ids) -> int:
    """Put failed tasks, or tasks waiting for their next attempt, back in the queue now.

    Side effects, in one transaction with the rows locked (a task a worker holds is skipped):
    ``status`` READY, ``run_after`` now, ``finished_at`` cleared; the last error stays shown
    until the new attempt. Returns how many were put back. Succeeded or running tasks are left.
    """
    with transaction.atomic():
        tasks = list(
            Tache.objects.select_for_update(skip_locked=True)
            .filter(pk__in=task_ids)
            .filter(status__in=[TaskResultStatus.FAILED, TaskResultStatus.READY])
            .order_by()
        )
        for task in tasks:
            task.status = TaskResultStatus.READY
            task.run_after = timezone.now()
            task.finished_at = None
            task.save(update_fields=["status", "run_after", "finished_at"])
    return len(tasks)
