from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "cycle"
    verbose_name = "Cycle de qualification"

    def ready(self):
        # The seam with the decisions: candidatures never imports the cycle; the cycle tells
        # it what to do when decisions are published and when staff record a withdrawal.
        from candidatures import retention
        from candidatures.appels import hooks as appels_hooks
        from candidatures.decisions import hooks
        from candidatures.dossiers import hooks as dossiers_hooks
        from cycle.participants.services import enrol_on_publication, retire_on_withdrawal
        from cycle.questions.retention import purge_questions
        from cycle.questions.services import export_questions
        from cycle.reseau.personal_data import dossier_personal_data
        from cycle.reseau.retention import purge_reseau
        from cycle.seances.services import copy_seance_plan

        hooks.connect_published(enrol_on_publication)
        hooks.connect_withdrawn(retire_on_withdrawal)
        # « Préparer l'édition suivante » copies the call's séance plan with the call.
        appels_hooks.connect_edition_copier(copy_seance_plan)
        # The network's retention rule runs with the others (purger_donnees, weekly task).
        retention.connect_purger(purge_reseau)
        # So does the rule of the questions au Cerdd.
        retention.connect_purger(purge_questions)
        # « Mes données » of a dossier includes its person's messages in the network.
        dossiers_hooks.connect_personal_data(dossier_personal_data)
        # « Mes données » includes the participation's questions au Cerdd.
        dossiers_hooks.connect_data_section(export_questions)
