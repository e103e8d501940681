"""The worker: django-tasks-db's, plus retries, recovery of dead workers' tasks, periodic tasks.

django-tasks-db claims each task with ``SELECT … FOR UPDATE SKIP LOCKED`` (several workers on
several machines never run one task twice at once) and stops gracefully on SIGTERM/SIGINT (the
running task finishes first). It has no retries and leaves the task of a worker that died
``RUNNING`` forever; this module adds both:

- A failed attempt goes back to the queue after ``TASKS_RETRY_DELAYS[n]`` seconds, its error
  kept for staff; after the last delay it is ``FAILED`` (listed in the admin, « Relancer »).
- Each worker holds a PostgreSQL advisory lock named after its id, on a connection of its own,
  for as long as it lives. The kernel closes a killed process's connection, PostgreSQL drops the
  lock: a ``RUNNING`` task whose worker's lock is free had its worker die, and goes back to the
  queue (an attempt spent).
- ``PERIODIC_TASKS`` (task path -> seconds): each one is kept enqueued for its next run.
"""

import contextlib
import datetime
import hashlib
import logging
import time

import psycopg2
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger("cerdd_ami.tasks")

# First half of every advisory lock key of this module: « CERD ».
LOCK_NAMESPACE = 0x43455244
RECOVERY_INTERVAL = datetime.timedelta(seconds=5)


def lock_key(worker_id: str) -> int:
    """The second half of ``worker_id``'s advisory lock key (a signed 32-bit integer)."""
    return int.from_bytes(hashlib.sha256(worker_id.encode()).digest()[:4], "big", signed=True)


def retry_delay(attempts: int) -> datetime.timedelta | None:
    """How long a task that failed its ``attempts``-th time waits; None when it has no more."""
    delays = settings.TASKS_RETRY_DELAYS
    if attempts > len(delays):
        return None
    return datetime.timedelta(seconds=delays[attempts - 1])


class Worker(DatabaseWorker):
    def __init__(self, **options):
        super().__init__(**options)
        self._lock_connection = None
        self._recovered_at = None

    def run(self) -> None:
        """Run until stopped; a database that goes away is waited for, not a reason to exit.

        django-tasks-db's loop ends on any database error: a PostgreSQL restart stopped every
        worker (and, under honcho, ``make run`` with it). Here the worker waits with back-off,
        reconnects, takes its lock again and puts back the task it was running, if any.
        """
        delay = 1.0
        while True:
            try:
                self._hold_lock()
                requeue_running_tasks_of(self.worker_id)
                recover_dead_workers_tasks()
                schedule_periodic_tasks()
                delay = 1.0
                super().run()
                return
            except (DatabaseError, psycopg2.Error) as error:
                logger.warning(
                    "Base de données injoignable (%s) : nouvel essai dans %.0f s.",
                    str(error).strip().splitlines()[0] if str(error).strip() else error,
                    delay,
                )
                self._close_lock_connection()
                with contextlib.suppress(DatabaseError):
                    connection.close()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                self._close_lock_connection()

    def _close_lock_connection(self) -> None:
        if self._lock_connection is not None:
            with contextlib.suppress(psycopg2.Error):
                self._lock_connection.close()
            self._lock_connection = None

    def _hold_lock(self) -> None:
        # A raw connection: Django's is closed between tasks (close_old_connections).
        params = connection.get_connection_params()
        self._lock_connection = psycopg2.connect(**params)
        self._lock_connection.autocommit = True
        with self._lock_connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, lock_key(self.worker_id)]
            )

    def run_task(self, db_task_result: DBTaskResult) -> None:
        task_id = db_task_result.pk
        super().run_task(db_task_result)
        result = DBTaskResult.objects.filter(pk=task_id).first()
        if result is not None and result.status == TaskResultStatus.FAILED:
            requeue_after_failure(result)
        elif result is not None and result.task_path in settings.PERIODIC_TASKS:
            schedule_periodic_tasks()
        now = timezone.now()
        if self._recovered_at is None or now - self._recovered_at > RECOVERY_INTERVAL:
            self._recovered_at = now
            recover_dead_workers_tasks()


def requeue_running_tasks_of(worker_id: str) -> int:
    """Put back in the queue the tasks still « running » under ``worker_id``'s name.

    Called when that worker (re)starts, so it runs none: a task it was running when the
    database went away stayed RUNNING, and the recovery of dead workers skips live ones. Side
    effects: those tasks READY again, run_after now (the attempt counts). Returns how many.
    """
    with transaction.atomic():
        mine = [
            result.pk
            for result in DBTaskResult.objects.running().select_for_update(skip_locked=True)
            if result.worker_ids and result.worker_ids[-1] == worker_id
        ]
        DBTaskResult.objects.filter(pk__in=mine).update(
            status=TaskResultStatus.READY, run_after=timezone.now()
        )
    return len(mine)


def requeue_after_failure(result: DBTaskResult) -> bool:
    """Put a failed attempt back in the queue after its back-off delay, if it has attempts left.

    Side effects: ``status`` READY and ``run_after`` = now + delay; the error stays recorded in
    ``exception_class_path`` and ``traceback`` until the next attempt. Returns whether it was
    put back.
    """
    delay = retry_delay(len(result.worker_ids))
    if delay is None:
        logger.error("Tâche %s (%s) en échec définitif.", result.pk, result.task_path)
        return False
    updated = DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY, run_after=timezone.now() + delay, finished_at=None
    )
    logger.warning("Tâche %s (%s) : nouvel essai dans %s.", result.pk, result.task_path, delay)
    return bool(updated)


def recover_dead_workers_tasks() -> list:
    """Put back in the queue the running tasks whose worker died; returns their ids.

    A worker that holds no advisory lock any more is dead (see the module's docstring). Side
    effects, in one transaction with the tasks' rows locked (another worker recovering at the
    same time skips them): each task READY again, an attempt spent; one whose attempts are
    used up is FAILED with « worker arrêté pendant la tâche ».
    """
    recovered = []
    with transaction.atomic():
        running = list(
            DBTaskResult.objects.running().select_for_update(skip_locked=True).order_by()
        )
        if not running:
            return recovered
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objsubid = 2 AND granted",
                [LOCK_NAMESPACE],
            )
            # pg_locks shows the key's second half as an unsigned oid.
            alive = {key - 2**32 if key >= 2**31 else key for (key,) in cursor.fetchall()}
        for result in running:
            if result.worker_ids and lock_key(result.worker_ids[-1]) in alive:
                continue
            recovered.append(result.pk)
            delay = retry_delay(len(result.worker_ids))
            result.exception_class_path = "cerdd_ami.tasks.worker.WorkerDied"
            result.traceback = (
                f"Le worker {result.worker_ids[-1] if result.worker_ids else '?'} "
                "s'est arrêté pendant la tâche."
            )
            if delay is None:
                result.status = TaskResultStatus.FAILED
                result.finished_at = timezone.now()
            else:
                result.status = TaskResultStatus.READY
                result.run_after = timezone.now()
            result.save(
                update_fields=[
                    "status",
                    "finished_at",
                    "run_after",
                    "exception_class_path",
                    "traceback",
                ]
            )
            logger.warning("Tâche %s reprise : son worker s'est arrêté.", result.pk)
    return recovered


def schedule_periodic_tasks(*, now=None) -> list:
    """Enqueue each periodic task that has no run waiting; returns the paths enqueued.

    The next run is due one period after the last successful one (now if there was none).
    Side effects, under a transaction-level advisory lock (two workers starting together
    enqueue each task once): one task row per periodic task missing from the queue.
    """
    now = now or timezone.now()
    enqueued = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [LOCK_NAMESPACE])
        for path, seconds in settings.PERIODIC_TASKS.items():
            rows = DBTaskResult.objects.filter(task_path=path)
            waiting = rows.filter(status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING])
            if waiting.exists():
                continue
            last = rows.successful().order_by("-finished_at").values_list("finished_at", flat=True)
            last_run = last.first()
            due = max(now, last_run + datetime.timedelta(seconds=seconds)) if last_run else now
            import_string(path).using(run_after=due).enqueue()
            enqueued.append(path)
    return enqueued
