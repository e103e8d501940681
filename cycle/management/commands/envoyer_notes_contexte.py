"""Send the context notes that are due, and retry the e-mails that failed, now. The worker does
the same every hour (``cycle.participants.context_notes.send_context_notes``): this command is
for an operator who does not want to wait.

Idempotent: a séance's note leaves once and an e-mail once sent is never sent again; an e-mail
that failed is retried by the next run while its séance is not past. The command ends in error
when e-mails are still « échec », so that the operator sees it.
"""

from django.core.management.base import BaseCommand, CommandError

from cerdd_ami.formats import format_date_fr
from cycle.participants.context_notes import send_due_context_notes


def emails(count: int) -> str:
    return f"{count} e-mail{'s' if count > 1 else ''}"


def sent_failed(sent: int, failed: int) -> str:
    text = f"{emails(sent)} envoyé{'s' if sent > 1 else ''}"
    if failed:
        text += f", {failed} en échec"
    return text


class Command(BaseCommand):
    help = (
        "Envoie les notes de contexte des séances proches (selon le délai de chaque cycle) et "
        "retente les envois en échec."
    )

    def handle(self, *args, **options):
        def report(sending):
            seance = sending.seance
            self.stdout.write(
                f"{seance.cycle} — séance {seance.numero} du {format_date_fr(seance.date)} : "
                f"{sent_failed(sending.sent, sending.failed)}."
            )
            for envoi in sending.failures:
                self.stdout.write(f"  échec : {envoi.destinataire} — {envoi.erreur}")

        sendings = send_due_context_notes(report=report)
        sent = sum(sending.sent for sending in sendings)
        failed = sum(sending.failed for sending in sendings)
        if not sendings:
            self.stdout.write("Aucune note de contexte à envoyer.")
            return
        total = f"Total : {sent_failed(sent, failed)}."
        if failed:
            raise CommandError(
                f"{total} Relancez la commande (ou attendez son prochain passage) pour retenter "
                "les envois en échec."
            )
        self.stdout.write(self.style.SUCCESS(total))
