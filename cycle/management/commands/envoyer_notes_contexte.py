"""Send the context notes that are due (for cron, e.g. daily at 7:00).

Idempotent: a séance's note leaves once; running the command again sends nothing more.
"""

from django.core.management.base import BaseCommand

from candidatures.receipt import format_date_fr
from cycle.services_staff import send_due_context_notes


class Command(BaseCommand):
    help = "Envoie les notes de contexte des séances proches (selon le délai de chaque cycle)."

    def handle(self, *args, **options):
        def report(seance, sent):
            self.stdout.write(
                f"{seance.cycle} — séance {seance.numero} du {format_date_fr(seance.date)} : "
                f"{sent} e-mail{'s' if sent > 1 else ''} envoyé{'s' if sent > 1 else ''}."
            )

        total = send_due_context_notes(report=report)
        if total == 0:
            self.stdout.write("Aucune note de contexte à envoyer.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Total : {total} e-mail{'s' if total > 1 else ''} envoyé"
                    f"{'s' if total > 1 else ''}."
                )
            )
