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
        hooks.connect_edition_copier(copy_questionnaire_to_next_edition)
