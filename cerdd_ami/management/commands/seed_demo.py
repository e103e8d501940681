"""Demo data for a newcomer: idempotent, French, realistic.

Each later issue extends this command with its own data; running it twice changes nothing.
"""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from candidatures.appels.seed import ensure_appel_2021, ensure_appel_ouvert, ensure_appel_recent
from candidatures.decisions import letter_templates
from candidatures.decisions.demo import publish_on_announcement, seed_decisions
from candidatures.dossiers.demo import RECENT_DOSSIERS, seed_candidatures
from candidatures.jury.demo import close_2021_scoring, seed_jury, seed_recent_jury
from candidatures.messagerie.demo import seed_messages
from candidatures.models import Decision
from candidatures.questionnaires.demo import ensure_appel_alimentation, ensure_questionnaire
from cerdd_ami import roles
from cerdd_ami.models import User
from cerdd_ami.permissions import sync_role_permissions
from cycle.demo import seed_cycle
from cycle.demo_edition import seed_edition_en_cours
from cycle.journal.demo import seed_journal
from cycle.models import (
    ConsentementAnnuaire,
    Cycle,
    Discussion,
    Engagement,
    EntreeJournal,
    MessageReseau,
    Presence,
    ReponseSondage,
)
from cycle.questions.demo import seed_questions
from cycle.reseau.demo import seed_reseau

DEMO_PASSWORD = "demo-cerdd"  # noqa: S105 - printed on purpose: demo data only

STAFF = [
    ("charge@cerdd.test", "Alexis", "Montaigne", roles.CHARGE_DE_MISSION),
    ("directeur@cerdd.test", "Emmanuel", "Bertin", roles.DIRECTION),
]
JURORS = [
    ("jury1@cerdd.test", "Claire", "Delattre"),
    ("jury2@cerdd.test", "Mehdi", "Benali"),
    ("jury3@cerdd.test", "Sophie", "Vandenbussche"),
    ("jury4@cerdd.test", "Jean-Marc", "Lefebvre"),
    ("jury5@cerdd.test", "Nadia", "Ouali"),
    ("jury6@cerdd.test", "Pierre", "Dumont"),
    ("jury7@cerdd.test", "Isabelle", "Caron"),
]


def _n(count, word):
    return f"{count} {word}{'s' if count > 1 else ''}"


def demo_accounts():
    accounts = [(email, first, last, group) for email, first, last, group in STAFF]
    accounts += [(email, first, last, roles.JURY) for email, first, last in JURORS]
    return accounts


class Command(BaseCommand):
    help = "Charge les données de démonstration (idempotent)."

    def _jury(self, label, jury):
        self.stdout.write(
            f"{label} : {jury['membres']} membres, "
            f"{_n(jury['conflits_detectes'] + jury['conflits_declares'], 'conflit')} d'intérêts "
            f"(détectés : {jury['conflits_detectes']}, déclarés : {jury['conflits_declares']}), "
            f"{jury['soumises']} évaluations soumises, {jury['brouillons']} brouillons, "
            f"{jury['non_commencees']} à commencer ({jury['evaluations_creees']} créées)."
        )

    def _cycle(self, label, cycle):
        self.stdout.write(
            f"{label} : {cycle.participants.count()} participants, "
            f"{Presence.objects.filter(seance__cycle=cycle).count()} présences, "
            f"{ReponseSondage.objects.filter(participant__cycle=cycle).count()} réponses au "
            f"sondage, {EntreeJournal.objects.filter(participant__cycle=cycle).count()} entrées "
            f"de journal, {Engagement.objects.filter(participant__cycle=cycle).count()} "
            f"engagements, {Discussion.objects.filter(cycle=cycle).count()} discussions "
            f"({MessageReseau.objects.filter(discussion__cycle=cycle).count()} messages), "
            f"{ConsentementAnnuaire.objects.filter(membre__participant__cycle=cycle).count()} "
            "accords pour l'annuaire."
        )

    # Demo data mails nobody. The override wraps the transaction: e-mails wait for its commit.
    @override_settings(
        MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
    )
    @transaction.atomic
    def handle(self, *args, **options):
        sync_role_permissions()
        for email, first_name, last_name, group_name in demo_accounts():
            user, created = User.objects.get_or_create(
                email=email,
                defaults={"first_name": first_name, "last_name": last_name, "is_staff": True},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get_or_create(name=group_name)[0])
        appel_2021 = ensure_appel_2021()
        appel_recent = ensure_appel_recent()
        appel_ouvert = ensure_appel_ouvert()
        ensure_questionnaire(appel_2021)
        ensure_questionnaire(appel_recent)
        # The open edition asks one question more than 2021 (a choice).
        ensure_questionnaire(appel_ouvert, extra_question=True)
        ensure_appel_alimentation()
        charge = User.objects.get(email="charge@cerdd.test")
        created = seed_candidatures(appel_2021, staff_user=charge)
        self.stdout.write(
            f"Appel 2021 : {appel_2021.candidatures.count()} candidatures "
            f"({appel_2021.candidatures.deposees().count()} déposées, {created} créées)."
        )
        jury = seed_jury(appel_2021, staff_user=charge)
        close_2021_scoring(appel_2021, staff_user=charge)
        self._jury("Jury 2021", jury)
        self.stdout.write(
            f"  notation close le {appel_2021.notation_close_at:%d/%m/%Y}, délibération "
            f"ouverte le {appel_2021.deliberation_ouverte_at:%d/%m/%Y}."
        )
        decisions = seed_decisions(appel_2021, staff_user=charge)
        self.stdout.write(
            f"Décisions 2021 : {decisions['retenues']} retenues, "
            f"{decisions['liste_attente']} en liste d'attente, "
            f"{decisions['non_retenues']} non retenues ({decisions['creees']} créées)."
        )

        publish_on_announcement(appel_2021, staff_user=charge)
        seed_cycle(appel_2021, staff_user=charge)
        cycle = Cycle.objects.get(appel=appel_2021)
        seed_journal(cycle)
        self._cycle(
            "Cycle 2021 (terminé : attestations disponibles ; e-mails des décisions en attente "
            "de « Publier les décisions »)",
            cycle,
        )
        appel_en_cours = seed_edition_en_cours(staff_user=charge)
        seed_cycle(appel_en_cours, staff_user=charge)
        cycle = Cycle.objects.get(appel=appel_en_cours)
        seed_journal(cycle)
        seed_reseau(cycle)
        questions = seed_questions(cycle, staff_user=charge)
        self.stdout.write(
            f"  questions au Cerdd : {_n(questions, 'question')} écrite(s) "
            "(deux répondues, dont une dans la FAQ du cycle, une en attente)."
        )
        held = cycle.current_seance()
        upcoming = cycle.next_seance()
        self._cycle(
            f"Appel {appel_en_cours.slug} (décisions publiées le "
            f"{appel_en_cours.announcement_at:%d/%m/%Y}) "
            f"et son cycle en cours (séance {held.numero} tenue le {held.date:%d/%m/%Y}, "
            f"séance {upcoming.numero} le {upcoming.date:%d/%m/%Y})",
            cycle,
        )
        demo_participant = (
            cycle.participants.order_by("candidature__numero").first().candidature.ref_tech_email
        )
        self.stdout.write(
            f"Participant·e de démonstration (connexion par lien, lu dans /dev/outbox/) : "
            f"{demo_participant}"
        )
        created = seed_candidatures(appel_recent, staff_user=charge, dossiers=RECENT_DOSSIERS)
        letter_templates.ensure_modeles_courrier(appel_recent)
        self.stdout.write(
            f"Appel {appel_recent.slug} (clos le {appel_recent.closes_at:%d/%m/%Y}, réponses "
            f"le {appel_recent.announcement_at:%d/%m/%Y}, première séance le "
            f"{appel_recent.first_session_date:%d/%m/%Y}) : "
            f"{appel_recent.candidatures.count()} candidatures "
            f"({appel_recent.candidatures.deposees().count()} déposées, {created} créées)."
        )
        self._jury(
            f"Jury {appel_recent.slug} (notation en cours)",
            seed_recent_jury(appel_recent, staff_user=charge),
        )
        self.stdout.write(
            f"  rappels au jury (« Relancer ») : {appel_recent.rappels_jury.count()}, envoyés "
            "par le worker."
        )
        threads = seed_messages(appel_recent, staff_user=charge)
        self.stdout.write(
            f"  messagerie : {_n(threads, 'fil')} de dossier écrit(s) "
            "(dont une demande de complément reçue)."
        )
        staged = Decision.objects.filter(candidature__appel=appel_recent)
        self.stdout.write(
            f"  décisions {appel_recent.slug} : {staged.count()} préparées, "
            f"{staged.filter(published_at__isnull=False).count()} publiées — à décider."
        )
        self.stdout.write(
            f"Appel ouvert aujourd'hui (page publique) : {appel_ouvert.titre}, jusqu'au "
            f"{appel_ouvert.closes_at:%d/%m/%Y} "
            f"({_n(appel_ouvert.candidatures.count(), 'candidature')})."
        )
        self.stdout.write(self.style.SUCCESS("Données de démonstration prêtes."))
        self.stdout.write(
            f"À essayer : jury1@cerdd.test note l'appel {appel_recent.slug} (notation en cours) ; "
            f"charge@cerdd.test y prépare les décisions, prévisualise les courriers et les "
            f"publie à partir du {appel_recent.announcement_at:%d/%m/%Y} ; l'appel 2021 est "
            "décidé et son cycle terminé ; le cycle de l'appel "
            f"« {appel_en_cours.titre} » est en cours."
        )
        self.stdout.write(f"Connexions de démonstration (mot de passe « {DEMO_PASSWORD} ») :")
        for email, first_name, last_name, group_name in demo_accounts():
            self.stdout.write(f"  {email:<24} {first_name} {last_name} — {group_name}")
