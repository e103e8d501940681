from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "cycle"
    verbose_name = "Cycle de qualification"

    def ready(self):
        # The seam with the decisions: candidatures never imports the cycle; the cycle tells
        # it what to do when decisions are published and when staff record a withdrawal.
        from candidatures.decisions import hooks
        from cycle.participants.services import enrol_on_publication, retire_on_withdrawal

        hooks.connect_published(enrol_on_publication)
        hooks.connect_withdrawn(retire_on_withdrawal)
