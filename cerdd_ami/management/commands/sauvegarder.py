from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cerdd_ami.backup import BackupError, sauvegarder


class Command(BaseCommand):
    help = (
        "Sauvegarde la base (pg_dump) et les fichiers déposés (MEDIA_ROOT ou bucket S3) dans un "
        "dossier neuf, "
        "avec un manifeste : lignes par table et SHA-256 de chaque fichier."
    )

    def add_arguments(self, parser):
        parser.add_argument("dossier", type=Path, help="dossier à créer (ou vide)")

    def handle(self, *args, dossier, **options):
        try:
            manifest = sauvegarder(target=dossier)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(manifest["database"]["tables"].values())
        self.stdout.write(
            f"Sauvegarde écrite dans {dossier.resolve()} : "
            f"{len(manifest['database']['tables'])} tables, {rows} lignes, "
            f"{len(manifest['media'])} fichiers."
        )
