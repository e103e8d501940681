from django.apps import AppConfig


class CerddAmiConfig(AppConfig):
    name = "cerdd_ami"
    verbose_name = "Comptes et rôles"

    def ready(self):
        from django.contrib import admin

        admin.site.site_header = "Cerdd — AMI Territoires participatifs"
        admin.site.site_title = "Cerdd — AMI Territoires participatifs"
        admin.site.index_title = "Administration de l'appel et du cycle"
