from django.core.management.base import BaseCommand

from cerdd_ami.permissions import sync_role_permissions


class Command(BaseCommand):
    help = "Donne à chaque groupe de rôle (Chargé·e de mission, Jury, Direction) ses permissions."

    def handle(self, *args, **options):
        for group, count in sync_role_permissions().items():
            self.stdout.write(f"{group} : {count} permission(s)")
