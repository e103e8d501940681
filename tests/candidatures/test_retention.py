"""Retention rules (RGPD): candidatures.retention and ``manage.py purger_donnees``."""

import zoneinfo
from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from candidatures import retention
from candidatures.models import (
    AccesCandidature,
    Appel,
    Candidature,
    ConflitInteret,
    DemandeLienConnexion,
    Depot,
    Evenement,
    PieceJointe,
    end_of_day,
)
from cerdd_ami.models import User
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    PieceJointeFactory,
    complete_candidature,
)
from tests.cycle.factories import CycleFactory, submitted_candidature
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A deadline after a 31-day month: 11 months after it is 15 July, and 30 more days (14 August)
# are still short of the 12 calendar months (15 August).
CLOSES_AT = datetime(2021, 8, 15, 23, 59, 59, tzinfo=PARIS)
TWELVE_MONTHS_LATER = datetime(2022, 8, 15, 23, 59, 59, tzinfo=PARIS)
SECOND = timedelta(seconds=1)


def closed_call(closes_at=CLOSES_AT, **kwargs) -> Appel:
    return AppelFactory(
        opens_at=closes_at - timedelta(days=90),
        closes_at=closes_at,
        announcement_at=closes_at + timedelta(days=30),
        **kwargs,
    )


def media_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def deposit(candidature, *, version=1) -> Depot:
    return Depot.objects.create(
        candidature=candidature,
        version=version,
        submitted_at=candidature.appel.closes_at - timedelta(days=2),
        contenu={"motivations": candidature.motivations},
    )


def reopened_candidature(appel) -> Candidature:
    """Submitted once, then reopened before the deadline and never submitted again."""
    candidature = submitted_candidature(appel)
    deposit(candidature)
    candidature.statut = Candidature.Statut.BROUILLON
    candidature.deposee_at = None
    candidature.save()
    return candidature


def sign_in_request(email, created_at) -> DemandeLienConnexion:
    return DemandeLienConnexion.objects.create(email=email, ip="192.0.2.7", created_at=created_at)


# --- Calendar months ---------------------------------------------------------------------------


def test_shift_months_keeps_the_paris_wall_clock_and_clamps_the_day():
    assert retention.shift_months(CLOSES_AT, -12) == datetime(2020, 8, 15, 23, 59, 59, tzinfo=PARIS)
    # 31 March minus one month is the last day of February, leap year or not.
    march_31 = datetime(2024, 3, 31, 10, 0, tzinfo=PARIS)
    assert retention.shift_months(march_31, -1) == datetime(2024, 2, 29, 10, 0, tzinfo=PARIS)
    assert retention.shift_months(march_31, -13) == datetime(2023, 2, 28, 10, 0, tzinfo=PARIS)
    # Across a daylight-saving change (winter → summer) the local hour stays 10:00.
    january = datetime(2024, 1, 15, 10, 0, tzinfo=PARIS)
    assert retention.shift_months(january, 6) == datetime(2024, 7, 15, 10, 0, tzinfo=PARIS)
    assert retention.shift_months(january, 60) == datetime(2029, 1, 15, 10, 0, tzinfo=PARIS)


# --- Sign-in link requests ---------------------------------------------------------------------


def test_purge_sign_in_requests_deletes_only_those_older_than_the_setting():
    now = datetime(2022, 1, 31, 12, 0, tzinfo=PARIS)
    sign_in_request("recent@exemple.test", now - timedelta(hours=1))
    sign_in_request("vingt-neuf@exemple.test", now - timedelta(days=29))
    sign_in_request("trente-et-un@exemple.test", now - timedelta(days=31))
    sign_in_request("un-an@exemple.test", now - timedelta(days=365))

    deleted = retention.purge_sign_in_requests(now=now)

    assert deleted == 2
    assert set(DemandeLienConnexion.objects.values_list("email", flat=True)) == {
        "recent@exemple.test",
        "vingt-neuf@exemple.test",
    }


def test_purge_sign_in_requests_follows_the_retention_setting(settings):
    settings.SIGN_IN_REQUESTS_RETENTION_DAYS = 7
    now = datetime(2022, 1, 31, 12, 0, tzinfo=PARIS)
    sign_in_request("six@exemple.test", now - timedelta(days=6))
    sign_in_request("huit@exemple.test", now - timedelta(days=8))

    assert retention.purge_sign_in_requests(now=now) == 1
    assert list(DemandeLienConnexion.objects.values_list("email", flat=True)) == [
        "six@exemple.test"
    ]


def test_sign_in_requests_retention_setting_refuses_a_bad_value(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from cerdd_ami.settings import env_int

    monkeypatch.setenv("SIGN_IN_REQUESTS_RETENTION_DAYS", "trente")
    with pytest.raises(ImproperlyConfigured, match="SIGN_IN_REQUESTS_RETENTION_DAYS='trente'"):
        env_int("SIGN_IN_REQUESTS_RETENTION_DAYS", 30)


# --- Drafts never submitted --------------------------------------------------------------------


def test_stale_drafts_are_kept_until_twelve_calendar_months_after_closing(
    django_capture_on_commit_callbacks,
):
    appel = closed_call()
    draft = complete_candidature(appel=appel)
    piece = draft.pieces.get()
    eleven_months_thirty_days = datetime(2022, 7, 15, 23, 59, 59, tzinfo=PARIS) + timedelta(days=30)

    for kept_at in (eleven_months_thirty_days, TWELVE_MONTHS_LATER):
        with django_capture_on_commit_callbacks(execute=True):
            assert retention.purge_stale_drafts(now=kept_at) == 0
        assert list(Candidature.objects.values_list("pk", flat=True)) == [draft.pk]
        assert media_files() == {piece.fichier.name}

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.purge_stale_drafts(now=TWELVE_MONTHS_LATER + SECOND) == 1

    assert Candidature.objects.count() == 0
    assert PieceJointe.objects.count() == 0
    assert media_files() == set()


def test_purge_stale_drafts_deletes_draft_rows_history_and_files_only(
    django_capture_on_commit_callbacks,
):
    old_call = closed_call()
    current_call = AppelFactory()
    applicant = UserFactory()
    stale = complete_candidature(appel=old_call, createur=applicant)
    PieceJointeFactory(
        candidature=stale, nature=PieceJointe.Nature.COMPLEMENTAIRE, nom_original="annexe.pdf"
    )
    Evenement.objects.create(candidature=stale, nature=Evenement.Nature.CREATION)
    juror = StaffFactory()
    ConflitInteret.objects.create(
        candidature=stale, jure=juror, origine=ConflitInteret.Origine.DECLARE, motif="Voisin."
    )
    submitted = submitted_candidature(old_call, createur=applicant)
    reopened = reopened_candidature(old_call)
    current_draft = complete_candidature(appel=current_call)
    kept_files = {
        piece.fichier.name
        for piece in PieceJointe.objects.filter(
            candidature__in=[submitted, reopened, current_draft]
        )
    }
    history = ConflitInteret.history.model.objects
    assert history.filter(candidature_id=stale.pk).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        deleted = retention.purge_stale_drafts(now=TWELVE_MONTHS_LATER + SECOND)

    assert deleted == 1
    assert set(Candidature.objects.values_list("pk", flat=True)) == {
        submitted.pk,
        reopened.pk,
        current_draft.pk,
    }
    assert list(AccesCandidature.objects.values_list("candidature", "user")) == [
        (submitted.pk, applicant.pk)
    ]
    assert Evenement.objects.filter(candidature_id=stale.pk).count() == 0
    assert ConflitInteret.objects.count() == 0
    assert history.filter(candidature_id=stale.pk).count() == 0
    assert media_files() == kept_files
    assert len(kept_files) == 3


def test_purge_stale_drafts_keeps_a_dossier_reopened_after_a_deposit(
    django_capture_on_commit_callbacks,
):
    reopened = reopened_candidature(closed_call())

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.purge_stale_drafts(now=datetime(2040, 1, 1, tzinfo=PARIS)) == 0

    assert list(Candidature.objects.values_list("pk", "statut")) == [
        (reopened.pk, Candidature.Statut.BROUILLON)
    ]
    assert media_files() == {reopened.pieces.get().fichier.name}


def test_purge_stale_drafts_never_deletes_a_submitted_dossier(
    django_capture_on_commit_callbacks,
):
    submitted = submitted_candidature(closed_call())

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.purge_stale_drafts(now=datetime(2040, 1, 1, tzinfo=PARIS)) == 0

    assert list(Candidature.objects.values_list("pk", "statut")) == [
        (submitted.pk, Candidature.Statut.DEPOSEE)
    ]
    assert media_files() == {submitted.pieces.get().fichier.name}


def test_stale_drafts_wait_for_twelve_months_after_an_extension():
    draft = CandidatureFactory(
        appel=closed_call(), prolongation_jusqu_au=CLOSES_AT + timedelta(days=10)
    )

    assert list(retention.stale_drafts(now=TWELVE_MONTHS_LATER + SECOND)) == []
    assert list(retention.stale_drafts(now=TWELVE_MONTHS_LATER + timedelta(days=11))) == [draft]


# --- Applicant accounts ------------------------------------------------------------------------


def test_purge_inactive_accounts_deletes_only_unreferenced_applicants_unused_for_a_year():
    now = datetime(2023, 6, 1, 12, 0, tzinfo=PARIS)
    year_ago = now - timedelta(days=366)
    unused = UserFactory(email="oublie@exemple.test", date_joined=year_ago, last_login=None)
    UserFactory(email="recent@exemple.test", date_joined=year_ago, last_login=now)
    UserFactory(email="nouveau@exemple.test", date_joined=now - timedelta(days=300))
    UserFactory(email="bloque@exemple.test", date_joined=year_ago, is_active=False)
    StaffFactory(email="jure@exemple.test", date_joined=year_ago, last_login=year_ago)
    referent = UserFactory(email="referent@exemple.test", date_joined=year_ago)
    submitted_candidature(closed_call(), createur=referent)
    # Only a trace of a deposit (SET_NULL) points to this one: kept all the same.
    depositor = UserFactory(email="deposant@exemple.test", date_joined=year_ago)
    Depot.objects.filter(pk=deposit(submitted_candidature(AppelFactory())).pk).update(
        submitted_by=depositor
    )

    assert retention.purge_inactive_accounts(now=now) == 1

    assert not User.objects.filter(pk=unused.pk).exists()
    assert set(User.objects.values_list("email", flat=True)) == {
        "recent@exemple.test",
        "nouveau@exemple.test",
        "bloque@exemple.test",
        "jure@exemple.test",
        "referent@exemple.test",
        "deposant@exemple.test",
    }


# --- Submitted dossiers past retention --------------------------------------------------------


def test_dossiers_past_retention_counts_five_years_from_the_last_seance():
    cycle = CycleFactory()
    last_seance = cycle.seances.order_by("-date").first().date
    assert last_seance == date(2022, 3, 29)
    submitted = submitted_candidature(cycle.appel)
    reopened = reopened_candidature(cycle.appel)
    CandidatureFactory(appel=cycle.appel)  # a draft: the other rule's business
    end = datetime(2027, 3, 29, 23, 59, 59, tzinfo=PARIS)

    assert list(retention.dossiers_past_retention(now=end)) == []
    assert set(retention.dossiers_past_retention(now=end + SECOND)) == {submitted, reopened}


def test_dossiers_past_retention_counts_from_the_closing_without_a_cycle():
    submitted = submitted_candidature(closed_call())
    end = datetime(2026, 8, 15, 23, 59, 59, tzinfo=PARIS)

    assert list(retention.dossiers_past_retention(now=end)) == []
    assert list(retention.dossiers_past_retention(now=end + SECOND)) == [submitted]
    assert end_of_day(date(2026, 8, 15)) == end


# --- The command -------------------------------------------------------------------------------


NOW = datetime(2027, 6, 1, 10, 0, tzinfo=PARIS)


def retention_scene():
    """What a weekly run finds in June 2027: old requests, a stale draft, its lone référent·e,
    a 2021 dossier past its retention, and things to keep."""
    sign_in_request("ancien@exemple.test", NOW - timedelta(days=31))
    sign_in_request("recent@exemple.test", NOW - timedelta(days=29))
    lone = UserFactory(
        email="seul@exemple.test", date_joined=datetime(2021, 9, 1, tzinfo=PARIS), last_login=None
    )
    old_call = closed_call(closes_at=datetime(2025, 3, 14, 23, 59, 59, tzinfo=PARIS), slug="2025")
    draft = complete_candidature(appel=old_call, createur=lone)
    cycle = CycleFactory(appel=AppelFactory(edition_2021=True, slug="2021"))
    submitted = submitted_candidature(cycle.appel)
    current = complete_candidature(appel=AppelFactory())
    return draft, submitted, current


EXPECTED_REPORT = (
    "Demandes de lien de connexion de plus de 30 jours {verb_f} : 1\n"
    "Brouillons jamais déposés (appel clos depuis plus de 12 mois) {verb_m} : 1\n"
    "Comptes de candidat·es sans dossier, inutilisés depuis 12 mois, {verb_m} : 1\n"
    "Avis de nouveauté (notifications) créés il y a plus de 12 mois {verb_m} : 0\n"
    "Fils de discussion du réseau et leurs messages (cycle fini depuis plus de 12 mois) "
    "{verb_m} : 0\n"
    "Accords pour l'annuaire du réseau (cycle fini depuis plus de 12 mois) {verb_m} : 0\n"
    "Échanges « Questions au Cerdd » et leurs pièces jointes (cycle fini depuis plus de 12 "
    "mois) {verb_m} : 0\n"
    "Dossiers déposés dont la conservation (5 ans après la fin du cycle) est échue, "
    "à examiner avec le DPO : 1\n"
    "  {numero} — {collectivite} — appel 2021 (Vers des territoires participatifs en "
    "Hauts-de-France)\n"
)


def run(*args) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purger_donnees", *args, stdout=out)
    return out.getvalue()


def test_purger_donnees_deletes_reports_and_is_idempotent(django_capture_on_commit_callbacks):
    _draft, submitted, current = retention_scene()
    kept_files = {
        piece.fichier.name
        for piece in PieceJointe.objects.filter(candidature__in=[submitted, current])
    }

    with django_capture_on_commit_callbacks(execute=True):
        output = run()

    assert output == EXPECTED_REPORT.format(
        verb_f="supprimées",
        verb_m="supprimés",
        numero=submitted.numero,
        collectivite=submitted.collectivite,
    )
    assert set(Candidature.objects.values_list("pk", flat=True)) == {submitted.pk, current.pk}
    assert list(DemandeLienConnexion.objects.values_list("email", flat=True)) == [
        "recent@exemple.test"
    ]
    assert not User.objects.filter(email="seul@exemple.test").exists()
    assert media_files() == kept_files

    with django_capture_on_commit_callbacks(execute=True):
        again = run()

    assert again == (
        "Demandes de lien de connexion de plus de 30 jours supprimées : 0\n"
        "Brouillons jamais déposés (appel clos depuis plus de 12 mois) supprimés : 0\n"
        "Comptes de candidat·es sans dossier, inutilisés depuis 12 mois, supprimés : 0\n"
        "Avis de nouveauté (notifications) créés il y a plus de 12 mois supprimés : 0\n"
        "Fils de discussion du réseau et leurs messages (cycle fini depuis plus de 12 mois) "
        "supprimés : 0\n"
        "Accords pour l'annuaire du réseau (cycle fini depuis plus de 12 mois) supprimés : 0\n"
        "Échanges « Questions au Cerdd » et leurs pièces jointes (cycle fini depuis plus de 12 "
        "mois) supprimés : 0\n"
        "Dossiers déposés dont la conservation (5 ans après la fin du cycle) est échue, "
        "à examiner avec le DPO : 1\n"
        f"  {submitted.numero} — {submitted.collectivite} — appel 2021 (Vers des territoires "
        "participatifs en Hauts-de-France)\n"
    )
    assert media_files() == kept_files


@pytest.mark.parametrize("flag", ["--dry-run", "--simulation"])
def test_purger_donnees_dry_run_deletes_nothing_and_prints_the_same_counts(
    flag, django_capture_on_commit_callbacks
):
    draft, submitted, current = retention_scene()
    files_before = media_files()
    users_before = set(User.objects.values_list("email", flat=True))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run(flag)

    assert output == "Simulation : rien n'est supprimé.\n" + EXPECTED_REPORT.format(
        verb_f="à supprimer",
        verb_m="à supprimer",
        numero=submitted.numero,
        collectivite=submitted.collectivite,
    )
    assert callbacks == []
    assert set(Candidature.objects.values_list("pk", flat=True)) == {
        draft.pk,
        submitted.pk,
        current.pk,
    }
    assert DemandeLienConnexion.objects.count() == 2
    assert set(User.objects.values_list("email", flat=True)) == users_before
    assert media_files() == files_before
    assert len(files_before) == 3
