import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from candidatures.models import (
    Appel,
    Candidature,
    ConflitInteret,
    Decision,
    Evaluation,
    MembreJury,
    ModeleCourrier,
    Note,
    PieceJointe,
)
from cerdd_ami.models import User
from cycle.models import (
    ConsentementAnnuaire,
    Cycle,
    Discussion,
    EntreeJournal,
    MessageReseau,
    Participant,
    Presence,
    ReponseFacilitateur,
    Seance,
)
from cycle.questions.models import EntreeFAQ, QuestionCerdd
from cycle.seances.services import cycle_is_over
from tests.demo_snapshot import restore

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = pytest.mark.django_db

DEMO_EMAILS = ["charge@cerdd.test", "directeur@cerdd.test"] + [
    f"jury{n}@cerdd.test" for n in range(1, 8)
]


# seed_demo renders some fifty PDFs: its one run per test process (tests/demo_snapshot.py)
# serves all the assertions about its result.
def test_seed_demo_creates_logins_calls_and_dossiers(demo_snapshot):
    output = restore(demo_snapshot)

    staff = User.objects.filter(is_staff=True).values_list("email", flat=True)
    assert sorted(staff) == sorted(DEMO_EMAILS)
    for email in DEMO_EMAILS:
        assert email in output
    assert "demo-cerdd" in output
    charge = User.objects.get(email="charge@cerdd.test")
    assert (charge.is_staff, charge.is_superuser) == (True, False)
    assert list(charge.groups.values_list("name", flat=True)) == ["Chargé·e de mission"]
    assert charge.has_perm("cerdd_ami.change_user")
    request = RequestFactory().post("/admin/login/")
    assert authenticate(request, username="jury3@cerdd.test", password="demo-cerdd") == (
        User.objects.get(email="jury3@cerdd.test")
    )
    appel_2021 = Appel.objects.get(slug="2021")
    assert appel_2021.candidatures.count() == 30
    assert appel_2021.candidatures.deposees().count() == 24
    departements = appel_2021.candidatures.values_list("collectivite__departement", flat=True)
    assert sorted(set(departements)) == ["02", "59", "60", "62", "80"]
    natures = appel_2021.candidatures.values_list("collectivite__nature", flat=True)
    assert sorted(set(natures)) == ["commune", "epci"]
    assert Appel.objects.current().is_open()
    assert Appel.objects.current().candidatures.count() == 0
    # 2021, the recent, the open and the running editions, and another programme's call.
    assert Appel.objects.count() == 5
    assert Appel.objects.filter(slug__startswith="alimentation-durable-").count() == 1
    # Both open calls are on the home page, each with its programme.
    assert [appel.programme for appel in Appel.objects.open_now()] == [
        "Territoires participatifs",
        "Alimentation durable",
    ]

    # The recent call: closed three weeks ago, answers in three weeks, being scored.
    today = timezone.localdate()
    deadline = today - timedelta(days=21)
    recent = Appel.objects.get(slug=str(deadline.year))
    assert Appel.objects.current() != recent
    assert recent.closes_at == datetime.combine(deadline, time(23, 59, 59), tzinfo=PARIS)
    assert recent.announcement_at == datetime.combine(
        today + timedelta(days=21), time(9), tzinfo=PARIS
    )
    assert recent.first_session_date == today + timedelta(days=51)
    assert recent.etat() == Appel.Etat.CLOS
    assert recent.scoring_is_open()
    assert recent.notation_close_at is None
    assert recent.deliberation_ouverte_at is None
    assert recent.criteres.count() == 4
    assert recent.candidatures.count() == 17
    deposees = recent.candidatures.deposees().order_by("numero")
    assert list(deposees.values_list("numero", flat=True)) == [
        f"AMI-{deadline.year}-{n:03d}" for n in range(1, 16)
    ]
    assert all(recent.opens_at < c.deposee_at <= recent.closes_at for c in deposees)
    assert (
        PieceJointe.objects.filter(candidature__in=deposees, question__code="lettre").count() == 15
    )
    evaluations = Evaluation.objects.filter(candidature__appel=recent)
    assert evaluations.filter(statut=Evaluation.Statut.SOUMISE).count() == 62
    assert evaluations.filter(statut=Evaluation.Statut.BROUILLON).count() == 6
    assert ConflitInteret.objects.filter(candidature__appel=recent).count() == 1
    assert not Decision.objects.filter(candidature__appel=recent).exists()
    assert ModeleCourrier.objects.filter(appel=recent).count() == 3
    assert "62 évaluations soumises, 6 brouillons, 36 à commencer (68 créées)" in output
    assert "jury1@cerdd.test note l'appel" in output

    # 2021 is decided and published; its scoring closed and deliberation opened before.
    appel_2021 = Appel.objects.get(slug="2021")
    assert appel_2021.notation_close_at == datetime(2021, 4, 2, 18, tzinfo=PARIS)
    assert appel_2021.deliberation_ouverte_at == datetime(2021, 4, 6, 9, 30, tzinfo=PARIS)
    published = Decision.objects.filter(candidature__appel=appel_2021)
    assert published.filter(published_at__isnull=False).count() == 24
    assert all(
        appel_2021.deliberation_ouverte_at < d.decided_at < d.published_at for d in published
    )
    assert not Evaluation.objects.filter(
        candidature__appel=appel_2021, statut=Evaluation.Statut.BROUILLON
    ).exists()
    assert Cycle.objects.filter(appel=appel_2021).exists()

    # Its cycle is over (attestations available); the running edition's straddles today.
    cycle_2021 = Cycle.objects.get(appel=appel_2021)
    assert cycle_is_over(cycle_2021)
    assert cycle_2021.next_seance() is None
    assert set(cycle_2021.seances.values_list("etat", flat=True)) == {Seance.Etat.TENUE}
    en_cours = Cycle.objects.get(appel__slug="cycle-en-cours")
    assert en_cours.appel.announcement_at < timezone.now()
    assert (
        Decision.objects.filter(
            candidature__appel=en_cours.appel, published_at=en_cours.appel.announcement_at
        ).count()
        == en_cours.appel.candidatures.deposees().count()
        == 8
    )
    held = list(en_cours.seances.started())
    to_come = list(en_cours.seances.upcoming())
    assert [s.numero for s in held] == [1, 2, 3, 4]
    assert [s.numero for s in to_come] == [5, 6, 7]
    assert timezone.localdate() - held[-1].date <= timedelta(days=7)
    assert [s.etat for s in en_cours.seances.order_by("numero")] == [Seance.Etat.TENUE] * 4 + [
        Seance.Etat.CONFIRMEE,
        Seance.Etat.PREVUE,
        Seance.Etat.PREVUE,
    ]
    assert sorted(
        set(
            Presence.objects.filter(seance__cycle=en_cours).values_list("seance__numero", flat=True)
        )
    ) == [1, 2, 3, 4]
    shared = EntreeJournal.objects.partagees().filter(participant__cycle=en_cours)
    assert shared.filter(created_at__gt=timezone.now()).count() == 0
    assert {s.numero for s in held} <= set(shared.values_list("seance__numero", flat=True))
    # Questions au Cerdd: two answered (one in the FAQ), one pending.
    questions = QuestionCerdd.objects.filter(participant__cycle=en_cours)
    assert (questions.count(), questions.en_attente().count()) == (3, 1)
    assert EntreeFAQ.objects.filter(cycle=en_cours).count() == 1
    demo_participant = en_cours.participants.order_by("candidature__numero").first()
    # Le réseau: three discussions, one reply hidden, some opt-ins but not the demo
    # participant's, who tries it themselves.
    assert Discussion.objects.filter(cycle=en_cours).count() == 3
    assert (
        MessageReseau.objects.filter(discussion__cycle=en_cours, masque_at__isnull=False).count()
        == 1
    )
    consents = ConsentementAnnuaire.objects.filter(membre__participant__cycle=en_cours)
    assert consents.count() >= 3
    assert not consents.filter(membre__participant=demo_participant).exists()
    assert (
        f"Participant·e de démonstration (connexion par lien, lu dans /dev/outbox/) : "
        f"{demo_participant.candidature.ref_tech_email}" in output
    )


def _counts():
    models = [
        User,
        Appel,
        Candidature,
        PieceJointe,
        MembreJury,
        ConflitInteret,
        Evaluation,
        Note,
        Decision,
        ModeleCourrier,
        Participant,
        Presence,
        EntreeJournal,
        ReponseFacilitateur,
        Discussion,
        MessageReseau,
        ConsentementAnnuaire,
        QuestionCerdd,
        EntreeFAQ,
    ]
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_is_idempotent(capsys, demo_snapshot):
    restore(demo_snapshot)  # the first run
    users = list(User.objects.order_by("email").values_list("email", "password"))
    dossiers = list(Candidature.objects.order_by("pk").values_list("numero", "statut"))
    appels = list(
        Appel.objects.order_by("pk").values_list(
            "slug", "closes_at", "notation_close_at", "deliberation_ouverte_at"
        )
    )
    counts = _counts()
    capsys.readouterr()

    call_command("seed_demo")

    assert list(User.objects.order_by("email").values_list("email", "password")) == users
    assert list(Candidature.objects.order_by("pk").values_list("numero", "statut")) == dossiers
    assert (
        list(
            Appel.objects.order_by("pk").values_list(
                "slug", "closes_at", "notation_close_at", "deliberation_ouverte_at"
            )
        )
        == appels
    )
    assert _counts() == counts
    output = capsys.readouterr().out
    assert output.count("0 créées") == 5
