"""Demo data for a newcomer: idempotent, French, realistic.

Each later issue extends this command with its own data; running it twice changes nothing.
"""

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from candidatures.demo import seed_candidatures
from candidatures.demo_decisions import seed_decisions
from candidatures.demo_jury import seed_jury
from candidatures.seed import ensure_appel_2021, ensure_appel_ouvert
from cerdd_ami import roles
from cerdd_ami.models import User
from cerdd_ami.permissions import sync_role_permissions
from cycle.demo import seed_cycle
from cycle.demo_journal import seed_journal
from cycle.models import Cycle, Engagement, EntreeJournal, Presence, ReponseSondage

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


def demo_accounts():
    accounts = [(email, first, last, group) for email, first, last, group in STAFF]
    accounts += [(email, first, last, roles.JURY) for email, first, last in JURORS]
    return accounts


class Command(BaseCommand):
    help = "Charge les données de démonstration (idempotent)."

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
        appel_ouvert = ensure_appel_ouvert()
        charge = User.objects.get(email="charge@cerdd.test")
        created = seed_candidatures(appel_2021, staff_user=charge)
        self.stdout.write(
            f"Appel 2021 : {appel_2021.candidatures.count()} candidatures ({created} créées). "
            f"Appel ouvert aujourd'hui : {appel_ouvert.titre}, jusqu'au "
            f"{appel_ouvert.closes_at:%d/%m/%Y}."
        )
        jury = seed_jury(appel_2021, staff_user=charge)
        self.stdout.write(
            f"Jury 2021 : {jury['membres']} membres, "
            f"{jury['conflits_detectes'] + jury['conflits_declares']} conflits d'intérêts "
            f"(détectés : {jury['conflits_detectes']}, déclarés : {jury['conflits_declares']}), "
            f"{jury['soumises']} évaluations soumises, {jury['brouillons']} brouillons, "
            f"{jury['non_commencees']} à commencer ({jury['evaluations_creees']} créées) ; "
            "délibération non ouverte."
        )
        decisions = seed_decisions(appel_2021, staff_user=charge)
        self.stdout.write(
            f"Décisions 2021 : {decisions['retenues']} retenues, "
            f"{decisions['liste_attente']} en liste d'attente, "
            f"{decisions['non_retenues']} non retenues ({decisions['creees']} créées)."
        )
        seed_cycle(appel_2021, staff_user=charge)
        cycle = Cycle.objects.get(appel=appel_2021)
        seed_journal(cycle)
        self.stdout.write(
            "Cycle 2021 (décisions publiées, courriers classés, e-mails en attente de "
            f"« Publier les décisions ») : {cycle.participants.count()} participants, "
            f"{Presence.objects.filter(seance__cycle=cycle).count()} présences, "
            f"{ReponseSondage.objects.filter(participant__cycle=cycle).count()} réponses au "
            f"sondage, {EntreeJournal.objects.filter(participant__cycle=cycle).count()} entrées "
            f"de journal, {Engagement.objects.filter(participant__cycle=cycle).count()} "
            "engagements."
        )
        demo_participant = (
            cycle.participants.order_by("candidature__numero").first().candidature.ref_tech_email
        )
        self.stdout.write(
            f"Participant·e de démonstration (connexion par lien, lu dans /dev/outbox/) : "
            f"{demo_participant}"
        )
        self.stdout.write(self.style.SUCCESS("Données de démonstration prêtes."))
        self.stdout.write(f"Connexions de démonstration (mot de passe « {DEMO_PASSWORD} ») :")
        for email, first_name, last_name, group_name in demo_accounts():
            self.stdout.write(f"  {email:<24} {first_name} {last_name} — {group_name}")
