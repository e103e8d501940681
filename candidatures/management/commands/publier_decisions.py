"""Publish a call's decisions at the announcement date, from cron; run again to retry.

    python manage.py publier_decisions --appel 2021

Prints what the run did. Exit code 0 when everything is published and every e-mail sent;
1 when the publication is refused (too early, dossiers without decision, unknown call) or when
letters or e-mails failed: running the command again retries them and sends nothing twice.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from candidatures.decisions import publication
from candidatures.models import Appel


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


class Command(BaseCommand):
    help = (
        "Publie les décisions d'un appel (à partir de la date de réponse aux collectivités), "
        "classe les courriers et les envoie par e-mail aux référent·es. Idempotent : relancez "
        "la commande pour retenter les envois en échec."
    )

    def add_arguments(self, parser):
        parser.add_argument("--appel", required=True, help="identifiant court de l'appel (slug)")

    def handle(self, *args, appel, **options):
        call = Appel.objects.filter(slug=appel).first()
        if call is None:
            raise CommandError(f"Aucun appel « {appel} ».")
        try:
            report = publication.publish_decisions(appel=call)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Appel : {call.titre} ({call.slug})")
        self.stdout.write(f"Décisions publiées : {report.published}")
        self.stdout.write(f"Courriers classés : {report.letters_filed}")
        for decision, error in report.letter_failures:
            candidature = decision.candidature
            self.stdout.write(
                f"  courrier en échec : {candidature.collectivite.nom} ({candidature.numero}) "
                f"— {error}"
            )
        self.stdout.write(f"E-mails envoyés : {report.sent}")
        self.stdout.write(f"Échecs : {report.failed}")
        for envoi in report.failures:
            self.stdout.write(f"  échec : {envoi.destinataire} — {envoi.erreur}")
        if not report.complete:
            parts = []
            if report.letter_failures:
                parts.append(_plural(report.letters_failed, "courrier"))
            if report.failures:
                parts.append(_plural(report.failed, "envoi"))
            raise CommandError(
                f"{' et '.join(parts)} en échec : relancez la commande pour les retenter."
            )
        self.stdout.write(self.style.SUCCESS("Publication terminée."))
