"""Issue every missing submission receipt now, by hand; run again to retry.

    python manage.py emettre_recus

A submission is recorded first and its receipt is rendered and mailed by a background task
(``submission.issue_receipt_task``), retried by the worker; the worker also runs the same sweep
as this command every 10 minutes (``PERIODIC_TASKS``), so no cron line is needed. This command
is for an operator who wants it done at once: PDF stored and mailed to the référent·es.
Receipts already issued are left alone, so running it twice sends nothing twice. Deposits of
the last five minutes are left to their own task. Exit code 1 when some receipts could not be
issued.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from candidatures.dossiers import submission


class Command(BaseCommand):
    help = (
        "Émet les accusés de réception manquants (dépôts enregistrés sans PDF) et les envoie "
        "par e-mail aux référent·es. Idempotent : relancez la commande pour retenter les échecs."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        issued = submission.issue_missing_receipts(now=now)
        self.stdout.write(f"Accusés de réception émis : {issued}")
        remaining = submission.missing_receipts(now=now).count()
        if remaining:
            raise CommandError(
                f"{remaining} accusé(s) de réception toujours manquant(s) : voir les erreurs "
                "dans le journal, puis relancer la commande."
            )
