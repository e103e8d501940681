"""Publish a call's decisions; run again to retry.

    python manage.py publier_decisions --appel 2021
    python manage.py publier_decisions --appel 2021 --par-le-worker

By default the command files and sends the letters itself (the operator's tool when the worker
is not running; its report and exit code say what was sent): exit code 0 when everything is
published and every e-mail sent; 1 when the publication is refused (too early, dossiers without
decision, unknown call) or when letters or e-mails failed: running the command again retries
them and sends nothing twice. With ``--par-le-worker``, it publishes as the admin does
(``publish_decisions_in_background``): the letters' task ``deliver_letters`` is enqueued and
the worker files and sends them, retrying failures itself.
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
        parser.add_argument(
            "--par-le-worker",
            action="store_true",
            dest="in_background",
            help="publier, puis confier le classement et l'envoi des courriers au worker "
            "(comme l'administration) au lieu de les faire dans la commande",
        )

    def handle(self, *args, appel, in_background=False, **options):
        call = Appel.objects.filter(slug=appel).first()
        if call is None:
            raise CommandError(f"Aucun appel « {appel} ».")
        if in_background:
            return self._publish_in_background(call)
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

    def _publish_in_background(self, call):
        try:
            report = publication.publish_decisions_in_background(appel=call)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Appel : {call.titre} ({call.slug})")
        self.stdout.write(f"Décisions publiées : {report.published}")
        self.stdout.write(
            "Courriers en cours de classement et d'envoi par le worker : suivez-les dans "
            "« Tâches de fond » et « Envois de courrier »."
        )
