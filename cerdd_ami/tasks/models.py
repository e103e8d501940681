import contextlib

from django.db import models
from django.tasks import TaskResultStatus
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult, get_date_max


class TacheQuerySet(models.QuerySet):
    def awaiting_retry(self):
        return self.filter(status=TaskResultStatus.READY).exclude(exception_class_path="")


class Tache(DBTaskResult):
    """A background task as staff see it: django-tasks-db's row, in French, in the admin."""

    objects = TacheQuerySet.as_manager()

    class Meta:
        proxy = True
        verbose_name = "tâche de fond"
        verbose_name_plural = "tâches de fond"

    @property
    def attempts(self) -> int:
        return len(self.worker_ids)

    @property
    def label(self) -> str:
        from cerdd_ami.tasks import LABELS

        if self.task_path not in LABELS:
            with contextlib.suppress(ImportError):
                import_string(self.task_path)  # its module registers the label
        return LABELS.get(self.task_path, self.task_path.rsplit(".", 1)[-1])

    @property
    def state_label(self) -> str:
        if self.status == TaskResultStatus.READY:
            return "Nouvel essai prévu" if self.exception_class_path else "En attente"
        return {
            TaskResultStatus.RUNNING: "En cours",
            TaskResultStatus.FAILED: "En échec",
            TaskResultStatus.SUCCESSFUL: "Terminée",
        }[self.status]

    @property
    def due_at(self):
        return None if self.run_after == get_date_max() else self.run_after

    @property
    def error_summary(self) -> str:
        lines = [line for line in self.traceback.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""
