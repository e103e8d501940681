from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from candidatures.appels.collectivites import DATA_FILE, import_collectivites
from candidatures.models import Collectivite


class Command(BaseCommand):
    help = (
        "Importe (ou met à jour) les communes et EPCI des Hauts-de-France depuis le CSV du "
        "référentiel, par SIREN. Idempotent ; les collectivités disparues deviennent inactives."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fichier", type=Path, default=DATA_FILE)

    @transaction.atomic
    def handle(self, *args, fichier, **options):
        result = import_collectivites(Collectivite, fichier)
        self.stdout.write(f"Collectivités : {result}.")
