from django.apps import AppConfig


class CandidaturesConfig(AppConfig):
    name = "candidatures"
    verbose_name = "Candidatures"

    def ready(self):
        # « Préparer l'édition suivante »: appels never imports the packages built on it; each
        # one copies its part of a call through candidatures/appels/hooks.py.
        from candidatures.appels import hooks
        from candidatures.decisions.services import copy_letter_templates
        from candidatures.questionnaires.services import copy_questionnaire_to_next_edition

        hooks.connect_edition_copier(copy_letter_templates)
        # « Mes données » includes the dossier's messages (candidatures/dossiers/hooks.py).
        from candidatures.dossiers import hooks as dossiers_hooks
        from candidatures.messagerie.services import export_messages

        dossiers_hooks.connect_data_section(export_messages)
        hooks.connect_edition_copier(copy_questionnaire_to_next_edition)
        # Notifications (cerdd_ami, below this app) have their own retention rule.
        from candidatures import retention
        from cerdd_ami.notifications.services import purge_old_notifications

        retention.connect_purger(purge_old_notifications)
