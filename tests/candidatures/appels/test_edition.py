"""« Préparer l'édition suivante »: candidatures.appels.services.prepare_next_edition."""

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from candidatures.appels import hooks
from candidatures.appels.seed import ensure_appel_2021
from candidatures.appels.services import (
    APPEL_COPIED_FIELDS,
    APPEL_FILE_FIELDS,
    APPEL_GIVEN_FIELDS,
    APPEL_RESET_FIELDS,
    APPEL_SHIFTED_FIELDS,
    EditionOffset,
    add_months,
    prepare_next_edition,
    propose_next_edition,
)
from candidatures.decisions import services as decisions_services
from candidatures.decisions.letter_templates import ensure_modeles_courrier
from candidatures.dossiers import submission
from candidatures.jury import services as jury_services
from candidatures.models import (
    Appel,
    Candidature,
    Critere,
    Decision,
    EtapeQuestionnaire,
    Issue,
    MembreJury,
    ModeleCourrier,
    NiveauCritere,
    PieceJointe,
    Question,
    Reponse,
)
from candidatures.questionnaires.models import AUTRE
from candidatures.questionnaires.services import create_standard_questionnaire, questionnaire_data
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import answer, complete_candidature
from tests.factories import UserFactory, charge_de_mission, juror

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PNG = b"\x89PNG\r\n\x1a\n" + b"signature du directeur" * 10
CHOICE_STEP = {
    "titre": "Fréquence",
    "intro": "Vos habitudes de concertation.",
    "questions": [
        {
            "code": "frequence",
            "libelle": "À quelle fréquence consultez-vous les habitant·es ?",
            "libelle_court": "Fréquence",
            "obligatoire": False,
            "type": "choix_multiple",
            "options": {"choix": ["Chaque mois", "Chaque année"], "autre": True},
        }
    ],
}


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def appel_2021():
    """The 2021 call as seeded, with every copied setting away from its default."""
    appel = ensure_appel_2021()
    appel.places = 9
    appel.mode_jury = Appel.ModeJury.AFFECTATION
    appel.jures_par_dossier = 2
    appel.seuil_desaccord = 2.5
    appel.epci_interregionaux_eligibles = False
    appel.taille_max_fichier_mo = 5
    appel.taille_max_dossier_mo = 20
    appel.lieu_courrier = "Lille"
    appel.signature.save("signature.png", ContentFile(PNG), save=False)
    appel.save()
    ensure_modeles_courrier(appel)
    return appel


def prepare(source, staff, **kwargs):
    arguments = {"titre": "Territoires participatifs — 2022", "slug": "2022", **kwargs}
    return prepare_next_edition(source=source, staff_user=staff, **arguments)


# -- moving dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2021, 5, 18), 12, date(2022, 5, 18)),
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2021, 11, 30), 3, date(2022, 2, 28)),
        (date(2021, 3, 31), -1, date(2021, 2, 28)),
        (date(2021, 12, 14), 0, date(2021, 12, 14)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("moment", "expected", "offset_hours"),
    [
        # Winter time in 2021, summer time on the same day of 2022 (DST began 27 March 2022).
        (datetime(2021, 3, 27, 10, 0, tzinfo=PARIS), datetime(2022, 3, 27, 10, 0), 2),
        # Summer time in 2021, winter time on the same day of 2022 (DST ended 30 October 2022).
        (datetime(2021, 10, 30, 23, 59, 59, tzinfo=PARIS), datetime(2022, 10, 30, 23, 59, 59), 1),
    ],
)
def test_shift_datetime_keeps_the_paris_wall_clock_across_dst(moment, expected, offset_hours):
    moved = EditionOffset(months=12).shift_datetime(moment)

    assert moved == expected.replace(tzinfo=PARIS)
    assert moved.utcoffset() == timedelta(hours=offset_hours)
    # A fixed 365-day step on the stored (UTC) value would have landed one hour off.
    assert moment.astimezone(UTC) + timedelta(days=365) != moved


def test_shift_datetime_moves_a_skipped_hour_as_a_clock_shows_it():
    # 2:30 does not exist in Paris on 27 March 2022: the clock jumps from 2:00 to 3:00.
    moved = EditionOffset(months=12).shift_datetime(datetime(2021, 3, 27, 2, 30, tzinfo=PARIS))

    assert moved == datetime(2022, 3, 27, 3, 30, tzinfo=PARIS)
    assert (moved.hour, moved.minute) == (3, 30)


def test_edition_offset_adds_months_then_days():
    offset = EditionOffset(months=1, days=3)

    assert offset.shift(date(2021, 1, 31)) == date(2021, 3, 3)
    assert offset.describe() == "1 mois et 3 jours"
    assert EditionOffset(months=0, days=364).describe() == "364 jours"
    assert EditionOffset(months=0, days=0).describe() == "aucun décalage"


# -- what is copied ---------------------------------------------------------------------------


def test_field_groups_cover_every_appel_field_once():
    groups = [
        *APPEL_GIVEN_FIELDS,
        *APPEL_COPIED_FIELDS,
        *APPEL_SHIFTED_FIELDS,
        *APPEL_FILE_FIELDS,
        *APPEL_RESET_FIELDS,
    ]

    assert len(groups) == len(set(groups))
    assert set(groups) == {f.name for f in Appel._meta.concrete_fields}


def test_prepare_next_edition_copies_the_call_with_its_dates_moved_by_a_year(appel_2021, staff):
    result = prepare(appel_2021, staff, prefixe_numero="AMI-2022")

    new = Appel.objects.get(slug="2022")
    assert result.appel == new
    assert (new.titre, new.slug, new.prefixe_numero) == (
        "Territoires participatifs — 2022",
        "2022",
        "AMI-2022",
    )
    assert {name: getattr(new, name) for name in APPEL_COPIED_FIELDS} == {
        name: getattr(appel_2021, name) for name in APPEL_COPIED_FIELDS
    }
    assert new.places == 9
    assert new.mode_jury == Appel.ModeJury.AFFECTATION
    assert (new.opens_at, new.closes_at, new.announcement_at, new.first_session_date) == (
        datetime(2021, 12, 10, 0, 0, tzinfo=PARIS),
        datetime(2022, 3, 12, 23, 59, 59, tzinfo=PARIS),
        datetime(2022, 4, 15, 9, 0, tzinfo=PARIS),
        date(2022, 5, 18),
    )
    assert (
        new.est_publie,
        new.dernier_numero,
        new.notation_close_at,
        new.deliberation_ouverte_at,
        new.decisions_published_at,
        new.calendrier,
    ) == (False, 0, None, None, None, "")
    assert result.copied == ["4 critères", "3 modèles de courrier"]
    assert result.warnings == []


def test_prepare_next_edition_leaves_the_scheduled_publication_to_the_old_call(appel_2021, staff):
    Appel.objects.filter(pk=appel_2021.pk).update(
        publication_programmee_at=datetime(2021, 4, 15, 9, 0, tzinfo=PARIS),
        publication_tache_id="6f1c0d3e",
    )

    new = prepare(appel_2021, staff).appel

    new.refresh_from_db()
    assert (new.publication_programmee_at, new.publication_tache_id) == (None, "")
    assert Appel.objects.filter(pk=appel_2021.pk).values_list(
        "publication_programmee_at", "publication_tache_id"
    ).get() == (datetime(2021, 4, 15, 9, 0, tzinfo=PARIS), "6f1c0d3e")


def test_prepare_next_edition_keeps_a_deadline_on_the_wall_clock_across_dst(appel_2021, staff):
    # The deadline falls in winter time in 2021 and in summer time on the same day in 2022.
    appel_2021.closes_at = datetime(2021, 3, 27, 23, 59, 59, tzinfo=PARIS)
    appel_2021.save()

    new = prepare(appel_2021, staff).appel

    new.refresh_from_db()
    assert new.closes_at == datetime(2022, 3, 27, 23, 59, 59, tzinfo=PARIS)
    assert new.closes_at.astimezone(PARIS).utcoffset() == timedelta(hours=2)


def test_prepare_next_edition_moves_dates_by_a_chosen_offset(appel_2021, staff):
    new = prepare(appel_2021, staff, offset_months=0, offset_days=364).appel

    assert (new.opens_at, new.closes_at, new.first_session_date) == (
        datetime(2021, 12, 9, 0, 0, tzinfo=PARIS),
        datetime(2022, 3, 11, 23, 59, 59, tzinfo=PARIS),
        date(2022, 5, 17),
    )
    # 52 weeks: the first séance stays a Tuesday.
    assert new.first_session_date.weekday() == appel_2021.first_session_date.weekday() == 1


def test_prepare_next_edition_copies_the_criteria_grid_and_its_levels(appel_2021, staff):
    new = prepare(appel_2021, staff).appel

    fields = ["ordre", "libelle", "description", "poids", "note_max"]
    assert list(Critere.objects.filter(appel=new).values_list(*fields)) == list(
        Critere.objects.filter(appel=appel_2021).values_list(*fields)
    )
    levels = ["critere__ordre", "note", "description"]
    assert list(
        NiveauCritere.objects.filter(critere__appel=new).order_by(*levels).values_list(*levels)
    ) == list(
        NiveauCritere.objects.filter(critere__appel=appel_2021)
        .order_by(*levels)
        .values_list(*levels)
    )
    assert NiveauCritere.objects.filter(critere__appel=new).count() == 20
    # New rows: the grids can be edited apart.
    assert not Critere.objects.filter(appel=new).filter(
        pk__in=Critere.objects.filter(appel=appel_2021)
    )


def test_prepare_next_edition_copies_the_letter_templates(appel_2021, staff):
    ModeleCourrier.objects.filter(appel=appel_2021, issue=Issue.RETENUE).update(
        objet="Votre candidature est retenue"
    )

    new = prepare(appel_2021, staff).appel

    fields = ["issue", "objet", "corps"]
    assert list(
        ModeleCourrier.objects.filter(appel=new).order_by("issue").values_list(*fields)
    ) == (
        list(ModeleCourrier.objects.filter(appel=appel_2021).order_by("issue").values_list(*fields))
    )
    assert ModeleCourrier.objects.get(appel=new, issue=Issue.RETENUE).objet == (
        "Votre candidature est retenue"
    )


def test_prepare_next_edition_copies_the_questionnaire_without_its_answers(appel_2021, staff):
    create_standard_questionnaire(appel=appel_2021)
    create_standard_questionnaire(appel=appel_2021, steps=[CHOICE_STEP])
    dossier = complete_candidature(appel=appel_2021)
    answer(dossier, "frequence", {"choix": [AUTRE], "autre": "Chaque trimestre"})
    source_questionnaire = questionnaire_data(appel_2021)

    result = prepare(appel_2021, staff)

    new = result.appel
    assert questionnaire_data(new) == source_questionnaire
    assert [(e["titre"], len(e["questions"])) for e in source_questionnaire] == [
        ("Motivations et projet", 4),
        ("Pièces jointes", 2),
        ("Fréquence", 1),
    ]
    assert list(EtapeQuestionnaire.objects.filter(appel=new).values_list("ordre", flat=True)) == [
        1,
        2,
        3,
    ]
    # New rows, neither answered nor holding a file; the 2021 dossier keeps its own.
    assert not Question.objects.filter(etape__appel=new).filter(
        pk__in=Question.objects.filter(etape__appel=appel_2021)
    )
    assert Reponse.objects.filter(question__etape__appel=new).count() == 0
    assert PieceJointe.objects.filter(question__etape__appel=new).count() == 0
    assert Reponse.objects.filter(candidature=dossier).count() == 5
    assert PieceJointe.objects.filter(candidature=dossier).count() == 1
    assert result.copied == [
        "4 critères",
        "3 modèles de courrier",
        "3 étapes, 7 questions du questionnaire",
    ]


def test_prepare_next_edition_without_a_questionnaire_reports_none(appel_2021, staff):
    result = prepare(appel_2021, staff)

    assert EtapeQuestionnaire.objects.filter(appel=result.appel).count() == 0
    assert result.copied == ["4 critères", "3 modèles de courrier"]


def test_prepare_next_edition_stores_the_signature_as_a_new_file(appel_2021, staff):
    new = prepare(appel_2021, staff).appel

    new.refresh_from_db()
    assert new.signature.name != appel_2021.signature.name
    assert new.signature.name.startswith("signatures/")
    with new.signature.open("rb") as image:
        assert image.read() == PNG
    # Each call owns its file: removing the old one leaves the new one.
    default_storage.delete(appel_2021.signature.name)
    assert default_storage.exists(new.signature.name)


def test_prepare_next_edition_copies_the_signature_within_the_s3_bucket(s3_storage, staff):
    appel = ensure_appel_2021()
    appel.signature.save("signature.png", ContentFile(PNG))

    new = prepare(appel, staff).appel

    new.refresh_from_db()
    assert new.signature.name != appel.signature.name
    assert s3_storage.objects() == {appel.signature.name: PNG, new.signature.name: PNG}


def test_prepare_next_edition_skips_a_signature_missing_from_storage(appel_2021, staff):
    default_storage.delete(appel_2021.signature.name)

    result = prepare(appel_2021, staff)

    result.appel.refresh_from_db()
    assert result.appel.signature.name == ""
    assert result.warnings == [
        "La signature de l'appel copié est introuvable : déposez-la sur le nouvel appel."
    ]


def test_prepare_next_edition_copies_nothing_of_dossiers_jury_or_decisions(appel_2021, staff):
    applicant = UserFactory()
    dossier = complete_candidature(appel=appel_2021, createur=applicant)
    submission.submit_candidature(
        candidature=dossier, user=applicant, now=datetime(2021, 3, 1, 10, tzinfo=PARIS)
    )
    member = juror()
    MembreJury.objects.create(appel=appel_2021, user=member)
    jury_services.close_scoring(appel=appel_2021, staff_user=staff)
    decisions_services.decide(
        candidature=dossier, issue=Issue.RETENUE, motivation="", staff_user=staff
    )
    appel_2021.refresh_from_db()
    assert appel_2021.dernier_numero == 1

    new = prepare(appel_2021, staff).appel

    new.refresh_from_db()
    assert Candidature.objects.filter(appel=new).count() == 0
    assert MembreJury.objects.filter(appel=new).count() == 0
    assert Decision.objects.filter(candidature__appel=new).count() == 0
    assert (new.dernier_numero, new.notation_close_at) == (0, None)
    # The source keeps everything.
    assert Candidature.objects.filter(appel=appel_2021).count() == 1
    assert MembreJury.objects.filter(appel=appel_2021).count() == 1


def test_new_edition_numbers_its_dossiers_from_one(appel_2021, staff):
    new = prepare(appel_2021, staff, prefixe_numero="AMI-2022").appel
    new.est_publie = True
    new.save()
    applicant = UserFactory()
    dossier = complete_candidature(appel=new, createur=applicant)

    submission.submit_candidature(
        candidature=dossier, user=applicant, now=datetime(2022, 3, 1, 10, tzinfo=PARIS)
    )

    dossier.refresh_from_db()
    assert dossier.numero == "AMI-2022-001"


def test_prepare_next_edition_records_who_prepared_it(appel_2021, staff):
    new = prepare(appel_2021, staff).appel

    entry = LogEntry.objects.get(object_id=str(new.pk), content_type__model="appel")
    assert (entry.user, entry.action_flag, entry.change_message) == (
        staff,
        ADDITION,
        "Préparé à partir de l'appel « Vers des territoires participatifs en Hauts-de-France — "
        "2021 » (dates décalées de 12 mois).",
    )


# -- refusals ---------------------------------------------------------------------------------


def test_prepare_next_edition_refuses_a_slug_already_used_in_french(appel_2021, staff):
    with pytest.raises(ValidationError) as error:
        prepare(appel_2021, staff, slug="2021")

    assert error.value.message_dict == {
        "slug": ["Un appel utilise déjà l'identifiant « 2021 » : choisissez-en un autre."]
    }
    assert list(Appel.objects.values_list("slug", flat=True)) == ["2021"]


def test_prepare_next_edition_refuses_a_juror(appel_2021, staff):
    sync_role_permissions()

    with pytest.raises(PermissionDenied):
        prepare(appel_2021, juror())

    assert Appel.objects.count() == 1


def test_prepare_next_edition_rolls_back_and_deletes_the_stored_signature(appel_2021, staff):
    def failing_copier(*, source, target, offset):
        raise RuntimeError("panne")

    hooks.connect_edition_copier(failing_copier)
    try:
        with pytest.raises(RuntimeError):
            prepare(appel_2021, staff)
    finally:
        hooks.edition_copiers.remove(failing_copier)

    assert list(Appel.objects.values_list("slug", flat=True)) == ["2021"]
    assert ModeleCourrier.objects.count() == 3
    assert default_storage.listdir("signatures")[1] == [appel_2021.signature.name.split("/")[1]]


# -- the public site ----------------------------------------------------------------------------


def test_new_edition_is_not_public_until_staff_publish_it(client, appel_2021, staff):
    new = prepare(appel_2021, staff).appel

    assert client.get("/appel/2022/").status_code == 404
    home = client.get("/").content.decode()
    assert "Territoires participatifs — 2022" not in home
    assert "Vers des territoires participatifs en Hauts-de-France — 2021" in home

    new.est_publie = True
    new.save()
    page = client.get("/appel/2022/").content.decode()

    calendar = page.split('class="list-unstyled mb-0 calendrier">')[1].split("</ul>")[0]
    assert re.findall(r"<li>(.*?)</li>", calendar) == [
        "Ouverture : 10 décembre 2021",
        "Date limite de dépôt : 12 mars 2022 à 23 h 59",
        "Réponse aux collectivités : 15 avril 2022",
        "1<sup>re</sup> journée du cycle : 18 mai 2022 à Loos-en-Gohelle",
        "Séances : 7 journées de mai 2022 à mars 2023, environ toutes les 6 semaines",
        "Places : 9 collectivités",
    ]


# -- the proposal -------------------------------------------------------------------------------


def test_propose_next_edition_moves_the_years_and_frees_the_slug(appel_2021):
    assert propose_next_edition(appel_2021, EditionOffset()) == {
        "titre": "Vers des territoires participatifs en Hauts-de-France — 2022",
        "slug": "2022",
        "prefixe_numero": "AMI-2022",
    }
    Appel.objects.create(
        titre="Autre",
        slug="2022",
        prefixe_numero="X",
        opens_at=datetime(2022, 1, 1, tzinfo=PARIS),
        closes_at=datetime(2022, 2, 1, tzinfo=PARIS),
        announcement_at=datetime(2022, 3, 1, tzinfo=PARIS),
    )

    assert propose_next_edition(appel_2021, EditionOffset())["slug"] == "2022-2"
    assert propose_next_edition(appel_2021, EditionOffset(months=24))["titre"] == (
        "Vers des territoires participatifs en Hauts-de-France — 2023"
    )
