"""Permissions carried by each role group.

Each app adds its models' permissions here as it arrives; ``sync_role_permissions`` applies
the table (idempotent), and runs after every ``migrate`` through ``seed_demo`` and the
``sync_roles`` command, so a new model's permissions reach the groups without hand edits.
"""

from django.contrib.auth.models import Group, Permission

from . import roles

# app_label -> {group name -> codenames}; "*" means every permission of the app.
ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "cerdd_ami": {
        # « change_tache » is the « Relancer » action on failed background tasks.
        roles.CHARGE_DE_MISSION: [
            "view_user",
            "add_user",
            "change_user",
            "view_tache",
            "change_tache",
        ],
    },
    "candidatures": {
        roles.CHARGE_DE_MISSION: [
            "view_appel",
            "add_appel",
            "change_appel",
            "view_critere",
            "add_critere",
            "change_critere",
            "view_niveaucritere",
            "add_niveaucritere",
            "change_niveaucritere",
            # The call's questionnaire (candidatures.questionnaires.admin): steps and questions
            # are built and corrected by staff; what a deposited dossier answered is protected
            # by the admin's safe-change rules, not by a missing permission.
            "view_etapequestionnaire",
            "add_etapequestionnaire",
            "change_etapequestionnaire",
            "delete_etapequestionnaire",
            "view_question",
            "add_question",
            "change_question",
            "delete_question",
            "view_collectivite",
            "change_collectivite",
            "view_candidature",
            "change_candidature",  # needed by the « Accorder une prolongation » action
            "view_brouillon",  # proxy model: the drafts list
            "view_piecejointe",
            "view_depot",
            "view_evenement",
            "view_accescandidature",  # the dossier page lists who can edit it
            # Jury, staff side (candidatures.jury.admin_staff): members and assignments are
            # staff's to manage; évaluations and notes are the jurors' own, read-only here;
            # a recusal a juror reports by phone or e-mail can be recorded by hand.
            "view_membrejury",
            "add_membrejury",
            "change_membrejury",
            "delete_membrejury",
            "view_affectation",
            "add_affectation",
            "change_affectation",
            "delete_affectation",
            "view_evaluation",
            "view_note",
            "view_conflitinteret",
            "add_conflitinteret",
            "change_conflitinteret",
            # The reminders « Relancer » wrote and their fate, read only.
            "view_rappeljury",
            # Decision letters (candidatures.admin_courriers): one text per outcome and call.
            "view_modelecourrier",
            "add_modelecourrier",
            "change_modelecourrier",
            # Decisions (candidatures.decisions.admin): staged one by one or in bulk, published,
            # letters downloaded and exported, e-mails followed; never deleted.
            "view_decision",
            "add_decision",
            "change_decision",
            "view_courrier",
            "view_envoicourrier",
            # Exports prepared by the worker (candidatures.decisions.admin_exports): each
            # person follows and downloads their own.
            "view_export",
            # The dossiers' threads (candidatures.messagerie.admin): read, answered, and
            # « demande de complément »; never edited or deleted. Jurors have none of these.
            "view_message",
            "add_message",
        ],
        # Jurors read and score their dossiers through the DossierJury proxy only; what they
        # may see is decided by Candidature.objects.for_juror, not by this permission.
        roles.JURY: ["view_dossierjury"],
    },
    "cycle": {
        # The cycle, staff side (cycle.admin): séances planned, participants and their
        # binômes, attendance recorded; context notes are sent by a service, their log read.
        roles.CHARGE_DE_MISSION: [
            "view_cycle",
            "add_cycle",
            "change_cycle",
            "view_seance",
            "add_seance",
            "change_seance",
            # Documents shared on a séance's page (added, replaced or removed in its inline).
            "view_documentseance",
            "add_documentseance",
            "change_documentseance",
            "delete_documentseance",
            "view_participant",
            "add_participant",
            "change_participant",
            "view_membrebinome",
            "add_membrebinome",
            "change_membrebinome",
            "view_presence",
            "add_presence",
            "change_presence",
            "view_envoinotecontexte",
            # Needs survey (cycle.sondage.admin): answers are the participants' words, read
            # only; the results page and its « Relancer » button need nothing more.
            "view_reponsesondage",
            "view_choixtheme",
            # Journal de bord (cycle.journal.admin): shared entries only, read-only, with the
            # team's replies; commitments and their progress read; exports need nothing more.
            "view_entreejournal",
            "view_reponsefacilitateur",
            "add_reponsefacilitateur",
            "view_engagement",
            "view_avancementengagement",
            # The participants' network (cycle.reseau.admin): discussions read-only; hiding a
            # message (with its reason) needs « change », which no edit form uses; the
            # directory's consents read.
            "view_discussion",
            "view_messagereseau",
            "change_messagereseau",
            "view_consentementannuaire",
            # Questions au Cerdd (cycle.questions.admin): read, assigned and answered from the
            # inbox; answers published in the cycle's FAQ, whose entries staff reword or remove.
            "view_questioncerdd",
            "change_questioncerdd",
            "view_entreefaq",
            "add_entreefaq",
            "change_entreefaq",
            "delete_entreefaq",
        ],
    },
}


def sync_role_permissions() -> dict[str, int]:
    """Give each role group exactly the permissions of ROLE_PERMISSIONS; returns counts."""
    wanted: dict[str, set[int]] = {
        name: set() for name in (roles.CHARGE_DE_MISSION, roles.JURY, roles.DIRECTION)
    }
    for app_label, by_group in ROLE_PERMISSIONS.items():
        app_permissions = Permission.objects.filter(content_type__app_label=app_label)
        for group_name, codenames in by_group.items():
            selected = (
                app_permissions
                if codenames == ["*"]
                else app_permissions.filter(codename__in=codenames)
            )
            wanted[group_name].update(selected.values_list("pk", flat=True))
    counts = {}
    for group_name, permission_ids in wanted.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set(permission_ids)
        counts[group_name] = len(permission_ids)
    return counts
