"""Apply the personal-data retention rules now; idempotent. The worker runs them weekly
(``candidatures.retention.purge_personal_data``): this command is for a dry run or by hand.

    python manage.py purger_donnees [--dry-run]

Deletes what the rules say must go (old sign-in link requests, drafts never submitted of
calls closed more than 12 months ago with their files, applicant accounts left with nothing)
and lists the submitted dossiers whose 5-year retention is over, for the DPO to decide:
those are never deleted automatically. See ``candidatures.retention``.

``--dry-run`` runs the very same deletions inside a transaction that is rolled back, so the
counts it prints are exactly those of a real run (an account is counted even when it is only
the drafts of this run that leave it without anything), and nothing is deleted, files included.
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from candidatures import retention


class Command(BaseCommand):
    help = (
        "Applique les règles de conservation des données personnelles : supprime les "
        "demandes de lien de connexion anciennes, les brouillons jamais déposés des appels "
        "clos depuis plus de 12 mois (avec leurs fichiers) et les comptes de candidat·es "
        "devenus sans objet ; liste, sans les supprimer, les dossiers déposés dont la durée "
        "de conservation est échue, à examiner avec le DPO. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            "--simulation",
            action="store_true",
            dest="dry_run",
            help="affiche ce qui serait supprimé, sans rien supprimer",
        )

    def handle(self, *args, dry_run=False, **options):
        now = timezone.now()
        if dry_run:
            self.stdout.write("Simulation : rien n'est supprimé.")
            with transaction.atomic():
                counts = retention.purge(now=now)
                # Discards the deletions and the file removals registered with on_commit.
                transaction.set_rollback(True)
        else:
            counts = retention.purge(now=now)

        def done(agreed: str) -> str:
            return "à supprimer" if dry_run else agreed

        days = settings.SIGN_IN_REQUESTS_RETENTION_DAYS
        self.stdout.write(
            f"Demandes de lien de connexion de plus de {days} jours {done('supprimées')} : "
            f"{counts['requests']}"
        )
        self.stdout.write(
            "Brouillons jamais déposés (appel clos depuis plus de 12 mois) "
            f"{done('supprimés')} : {counts['drafts']}"
        )
        self.stdout.write(
            "Comptes de candidat·es sans dossier, inutilisés depuis 12 mois, "
            f"{done('supprimés')} : {counts['accounts']}"
        )
        # The other apps' rules (``retention.purgers``) name their counts in French.
        for label, count in counts.items():
            if label not in {"requests", "drafts", "accounts"}:
                self.stdout.write(f"{label} {done('supprimés')} : {count}")

        dossiers = list(retention.dossiers_past_retention(now=now))
        self.stdout.write(
            "Dossiers déposés dont la conservation (5 ans après la fin du cycle) est échue, "
            f"à examiner avec le DPO : {len(dossiers)}"
        )
        for dossier in dossiers:
            self.stdout.write(
                f"  {dossier.numero or 'sans numéro'} — {dossier.collectivite} — "
                f"appel {dossier.appel.slug} ({dossier.appel.titre})"
            )
