"""``manage.py worker``: runs the background tasks (see cerdd_ami/tasks/worker.py).

The options are django-tasks-db's ``db_worker`` ones (``--batch`` runs what is due and exits,
``--queue-name``, ``--interval``, ``--max-tasks``, ``--worker-id``, ``--reload``).
"""

import os

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from cerdd_ami.tasks.worker import Worker


class Command(db_worker.Command):
    help = "Exécute les tâches de fond : accusés de réception, courriers, exports, rappels…"

    def handle(self, *, verbosity, queue_name, exclude_queues, reload, batch, **options):
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues ne s'emploie qu'avec --queue-name='*'.")
        worker = Worker(
            queue_names=queue_names,
            excluded_queue_names=excluded,
            batch=batch,
            interval=options["interval"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
