from django.apps import AppConfig


class CerddAmiConfig(AppConfig):
    name = "cerdd_ami"
    verbose_name = "Comptes et rôles"

    def ready(self):
        from django.contrib import admin

        admin.site.site_header = "Cerdd — Appels à manifestation d'intérêt"
        admin.site.site_title = "Cerdd — Appels à manifestation d'intérêt"
        admin.site.index_title = "Administration de l'appel et du cycle"
