from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cerdd_ami.backup import BackupError, restaurer


class Command(BaseCommand):
    help = (
        "Restaure une sauvegarde de `sauvegarder` dans la base (vide) et le stockage de fichiers "
        "(MEDIA_ROOT ou bucket S3, vide) "
        "configurés, puis vérifie lignes et empreintes d'après le manifeste."
    )

    def add_arguments(self, parser):
        parser.add_argument("dossier", type=Path, help="dossier écrit par `sauvegarder`")

    def handle(self, *args, dossier, **options):
        try:
            problems = restaurer(source=dossier)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        if problems:
            raise CommandError("Restauration incomplète :\n" + "\n".join(problems))
        self.stdout.write(
            f"Sauvegarde {dossier.resolve()} restaurée : lignes et empreintes conformes au "
            "manifeste."
        )
