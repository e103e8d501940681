"""Background work through Django's tasks API, stored in PostgreSQL (django-tasks-db).

``background(label)`` declares a task with the French label staff read in the admin's list of
tasks; ``enqueue(task, …)`` hands it over once the caller's change is committed. The worker
(``manage.py worker``, ``cerdd_ami/tasks/worker.py``) runs them, retries failures with back-off,
puts back the tasks of a worker that died, and enqueues the periodic ones (``PERIODIC_TASKS``):
no cron line.

Every task must be safe to run twice (a retry after a worker died mid-task): each one checks
what is already done (a receipt sent, a letter filed) under a row lock before doing it.
"""

from django.conf import settings
from django.db import transaction
from django.tasks import default_task_backend, task, task_backends

# task path -> French label shown to staff.
LABELS: dict[str, str] = {}


def background(label: str, **options):
    """``@task(**options)``, registered with its label for the admin's list of tasks."""

    def decorate(function):
        declared = task(**options)(function)
        LABELS[declared.module_path] = label
        return declared

    return decorate


def uses_database_queue(declared_task=None) -> bool:
    from django_tasks_db import DatabaseBackend

    backend = task_backends[declared_task.backend] if declared_task else default_task_backend
    return isinstance(backend, DatabaseBackend)


def is_last_attempt(context) -> bool:
    """Whether a failure of the running attempt (a task declared ``takes_context=True``) is
    final: the worker retries a task ``len(settings.TASKS_RETRY_DELAYS)`` times (see
    ``worker.retry_delay``); other backends never retry."""
    if not uses_database_queue(context.task_result.task):
        return True
    return context.attempt > len(settings.TASKS_RETRY_DELAYS)


def enqueue(declared_task, *args, **kwargs) -> None:
    """Hand ``declared_task`` to the queue as part of the caller's change.

    With the database queue, the task row is written in the caller's transaction: it exists
    if and only if the change is committed, and no worker sees it before the commit. Other
    backends (the immediate one in tests) have no such row, so they get the task on commit.
    """
    if uses_database_queue(declared_task):
        declared_task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: declared_task.enqueue(*args, **kwargs))
