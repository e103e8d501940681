"""The needs survey: the participant answers (service, form, view), staff read the results
(Borda order, non-respondents) and remind those who have not answered; the demo cycle."""

import html
import re
import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from candidatures.decisions import services as decisions_services
from candidatures.models import Decision, Issue
from cerdd_ami.permissions import sync_role_permissions
from cycle.demo import seed_cycle
from cycle.demo_edition import first_seance_for
from cycle.models import (
    ChoixTheme,
    Cycle,
    DocumentSeance,
    EnvoiNoteContexte,
    MembreBinome,
    Participant,
    Presence,
    ReponseSondage,
    Seance,
)
from cycle.seances.services import cycle_is_over, seance_dates
from cycle.sondage.services import THEME_LABELS, remind_survey, submit_survey, survey_results
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import CycleFactory, ParticipantFactory, submitted_candidature
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import page_text, pdf_text

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = pytest.mark.django_db
# The factories' cycle starts on 18 May 2021 at 9:30 (Paris): the survey closes then.
FIRST_SEANCE_STARTS = datetime(2021, 5, 18, 9, 30, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def survey_open(request, time_machine):
    """Answers are given a fortnight before the first séance, except in the demo's test."""
    if "seed_cycle" not in request.node.name:
        time_machine.move_to(datetime(2021, 5, 3, 10, 0, tzinfo=PARIS), tick=False)


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def user():
    return UserFactory(email="claire@exemple.test")


@pytest.fixture
def participant(user):
    return ParticipantFactory(createur=user)


def sondage_url(participant):
    return reverse("cycle:sondage", kwargs={"participant_pk": participant.pk})


def resultats_url(cycle):
    return reverse("admin:cycle_reponsesondage_resultats", args=[cycle.pk])


def section(content: str, start: str, end: str) -> str:
    """The part of a page from ``start`` to the first ``end`` after it."""
    begin = content.index(start)
    return content[begin : content.index(end, begin)]


def choices(participant):
    return list(
        ChoixTheme.objects.filter(reponse__participant=participant)
        .order_by("rang")
        .values_list("rang", "theme")
    )


# ---------------------------------------------------------------------------------------------
# Service


def test_submit_survey_records_the_ranking_and_replaces_a_previous_answer(participant, user):
    reponse = submit_survey(
        participant=participant,
        user=user,
        ranked_themes=["outils", "enjeux", "diversite"],
        suggestions="  La place des jeunes.  ",
        attentes="Des outils à tester.",
    )

    reponse.refresh_from_db()
    assert (reponse.participant, reponse.submitted_by) == (participant, user)
    assert (reponse.suggestions, reponse.attentes) == (
        "La place des jeunes.",
        "Des outils à tester.",
    )
    assert choices(participant) == [(1, "outils"), (2, "enjeux"), (3, "diversite")]

    again = submit_survey(participant=participant, user=user, ranked_themes=["postures"])

    assert again.pk == reponse.pk
    assert ReponseSondage.objects.count() == 1
    assert choices(participant) == [(1, "postures")]
    assert (again.suggestions, again.attentes) == ("", "")


def test_all_eight_themes_may_be_ranked(participant, user):
    ranked = list(THEME_LABELS)
    submit_survey(participant=participant, user=user, ranked_themes=ranked)
    assert choices(participant) == list(enumerate(ranked, start=1))


@pytest.mark.parametrize(
    ("ranked", "message"),
    [
        (["outils", "enjeux", "outils"], "Chaque thème ne peut être classé qu'une fois."),
        (["outils", "inconnu"], "Thème inconnu : inconnu. Choisissez parmi les thèmes proposés."),
        ([], "Classez au moins un thème."),
        ([*THEME_LABELS, "outils"], "Vous ne pouvez classer que 8 thèmes au plus."),
    ],
)
def test_submit_survey_refuses_a_bad_ranking_and_keeps_the_previous_answer(
    participant, user, ranked, message
):
    submit_survey(participant=participant, user=user, ranked_themes=["alliances"])

    with pytest.raises(ValidationError) as error:
        submit_survey(participant=participant, user=user, ranked_themes=ranked)

    assert error.value.messages == [message]
    assert choices(participant) == [(1, "alliances")]


def test_submit_survey_refuses_someone_of_another_collectivite(participant):
    with pytest.raises(PermissionDenied):
        submit_survey(participant=participant, user=UserFactory(), ranked_themes=["outils"])
    assert not ReponseSondage.objects.exists()


# ---------------------------------------------------------------------------------------------
# Participant view


def test_anonymous_visitor_is_sent_to_sign_in(client, participant):
    response = client.get(sondage_url(participant))
    assert response.status_code == 302
    assert response.url.startswith("/connexion/?next=")


def test_someone_of_another_collectivite_gets_404(client, participant):
    client.force_login(ParticipantFactory(createur=UserFactory()).candidature.acces.get().user)
    assert client.get(sondage_url(participant)).status_code == 404
    assert client.post(sondage_url(participant), {"rang_outils": "1"}).status_code == 404
    assert not ReponseSondage.objects.exists()


def test_participant_ranks_themes_with_selects(client, participant, user):
    client.force_login(user)
    page = client.get(sondage_url(participant))
    text = page_text(page)
    assert page.status_code == 200
    assert "Sondage des besoins" in text
    for theme, label in THEME_LABELS.items():
        assert f'for="id_rang_{theme}"' in text
        assert label in text
    assert "Vos propres thèmes" in text
    assert "Vos attentes" in text

    response = client.post(
        sondage_url(participant),
        {
            "rang_diversite": "1",
            "rang_outils": "2",
            "rang_enjeux": "",
            "suggestions": "Les jeunes",
            "attentes": "Échanger",
        },
    )

    assert response.status_code == 302
    assert response.url == sondage_url(participant)
    assert choices(participant) == [(1, "diversite"), (2, "outils")]
    again = page_text(client.get(sondage_url(participant)))
    assert "Vous avez répondu le" in again


def test_a_rank_given_twice_is_refused_next_to_each_field(client, participant, user):
    client.force_login(user)
    response = client.post(
        sondage_url(participant), {"rang_diversite": "1", "rang_outils": "1", "rang_enjeux": "2"}
    )
    text = page_text(response)
    assert response.status_code == 400
    assert "Vos réponses ne sont pas enregistrées" in text
    assert (
        text.count("Le rang 1 est donné à 2 thèmes : chaque rang ne peut servir qu'une fois.") >= 2
    )
    assert not ReponseSondage.objects.exists()


def test_a_gap_in_the_ranks_is_refused(client, participant, user):
    client.force_login(user)
    response = client.post(sondage_url(participant), {"rang_diversite": "1", "rang_outils": "3"})
    assert response.status_code == 400
    assert "Les rangs se suivent à partir de 1 : il manque le rang 2." in page_text(response)
    assert not ReponseSondage.objects.exists()


# ---------------------------------------------------------------------------------------------
# Staff results and reminder


@pytest.fixture
def world(staff):
    """One cycle, three collectivités: two answered, one did not (plus one who left)."""
    cycle = CycleFactory()
    first, second, silent, gone = (ParticipantFactory(cycle=cycle) for _ in range(4))
    gone.statut = Participant.Statut.RETIRE
    gone.save()
    submit_survey(
        participant=first,
        user=staff,
        ranked_themes=["outils", "enjeux", "diversite"],
        suggestions="La place des jeunes",
    )
    submit_survey(
        participant=second, user=staff, ranked_themes=["enjeux", "outils"], attentes="Des outils"
    )
    return cycle, first, second, silent, gone


def test_results_are_ordered_by_borda_score(world):
    cycle = world[0]
    rows = survey_results(cycle)
    # enjeux 7 + 8 = 15; outils 8 + 7 = 15 (tie: the call's order); diversite 6; others 0.
    assert [(r.theme, r.borda, r.count) for r in rows[:3]] == [
        ("enjeux", 15, 2),
        ("outils", 15, 2),
        ("diversite", 6, 1),
    ]
    assert [r.borda for r in rows[3:]] == [0] * 5


def test_staff_results_page_shows_borda_order_and_non_respondents(client, world, staff):
    cycle, first, second, silent, gone = world
    client.force_login(staff)
    response = client.get(resultats_url(cycle))
    assert response.status_code == 200
    content = response.content.decode()
    table = html.unescape(section(content, 'id="tableau-themes"', "</table>"))
    rows = re.findall(r"<th scope=\"row\">(.*?)</th>\s*<td class=\"num\">(\d+)</td>", table)
    assert rows[:3] == [
        (THEME_LABELS["enjeux"], "15"),
        (THEME_LABELS["outils"], "15"),
        (THEME_LABELS["diversite"], "6"),
    ]
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in content
    assert 'role="img"' in content
    pending = html.unescape(section(content, 'id="liste-sans-reponse"', "</ul>"))
    assert silent.candidature.collectivite.nom in pending
    for other in (first, second, gone):
        assert other.candidature.collectivite.nom not in pending
    text = page_text(response)
    assert "La place des jeunes" in text
    assert "Des outils" in text
    assert "Relancer" in text


def test_relancer_emails_exactly_the_non_respondents(
    client, world, staff, django_capture_on_commit_callbacks
):
    cycle, first, second, silent, gone = world
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resultats_url(cycle), {"action": "relancer"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    expected = silent.candidature.referent_emails()
    assert sorted(message.to) == sorted(expected)
    assert silent.candidature.collectivite.nom in message.body
    assert sondage_url(silent) in message.body
    assert "votre avis sur le programme du cycle" in message.subject
    assert message.reply_to == [cycle.appel.contact_email] == ["amontaigne@cerdd.org"]
    others = {e for p in (first, second, gone) for e in p.candidature.referent_emails()}
    assert not others & set(message.to)


def test_remind_survey_is_for_staff_only(world):
    with pytest.raises(PermissionDenied):
        remind_survey(cycle=world[0], staff_user=UserFactory())


def test_juror_may_not_see_results_nor_remind(client, world, django_capture_on_commit_callbacks):
    sync_role_permissions()
    client.force_login(juror())
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(resultats_url(world[0])).status_code == 403
        assert client.post(resultats_url(world[0]), {"action": "relancer"}).status_code == 403
    assert mail.outbox == []


def test_answers_are_read_only_in_the_admin(client, world, staff):
    client.force_login(staff)
    changelist = client.get(reverse("admin:cycle_reponsesondage_changelist"))
    assert changelist.status_code == 200
    assert resultats_url(world[0]) in changelist.content.decode()
    reponse = world[1].sondage
    assert (
        client.get(reverse("admin:cycle_reponsesondage_change", args=[reponse.pk])).status_code
        == 200
    )
    assert client.get(reverse("admin:cycle_reponsesondage_add")).status_code == 403


def test_answers_list_reads_a_fixed_number_of_queries(client, staff, django_assert_num_queries):
    client.force_login(staff)
    cycle = CycleFactory()
    url = reverse("admin:cycle_reponsesondage_changelist")

    def answer(count):
        for _ in range(count):
            submit_survey(
                participant=ParticipantFactory(cycle=cycle), user=staff, ranked_themes=["outils"]
            )

    answer(1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    answer(5)
    with django_assert_num_queries(len(one)):
        response = client.get(url)
    assert [reponse.submitted_by for reponse in response.context_data["cl"].result_list] == [
        staff
    ] * 6


# ---------------------------------------------------------------------------------------------
# Closing at the first séance


def test_answers_are_refused_once_the_first_seance_has_started(participant, user):
    submit_survey(
        participant=participant,
        user=user,
        ranked_themes=["outils"],
        now=FIRST_SEANCE_STARTS - timedelta(seconds=1),
    )
    assert choices(participant) == [(1, "outils")]

    for moment in (FIRST_SEANCE_STARTS, FIRST_SEANCE_STARTS + timedelta(days=30)):
        with pytest.raises(ValidationError) as error:
            submit_survey(participant=participant, user=user, ranked_themes=["enjeux"], now=moment)
        assert error.value.code == "closed"
        assert error.value.messages == [
            "Le sondage est clos : la première séance a commencé le 18 mai 2021 à 9 h 30. "
            "Les réponses ne peuvent plus être envoyées ni modifiées."
        ]
    assert choices(participant) == [(1, "outils")]
    assert ReponseSondage.objects.get(participant=participant).submitted_at == (
        FIRST_SEANCE_STARTS - timedelta(seconds=1)
    )


def test_closing_time_is_read_in_paris(participant, user):
    # 9:30 in Paris in May is 7:30 UTC: 7:29:59 UTC is still open, 7:30 UTC closed.
    utc = zoneinfo.ZoneInfo("UTC")
    submit_survey(
        participant=participant,
        user=user,
        ranked_themes=["outils"],
        now=datetime(2021, 5, 18, 7, 29, 59, tzinfo=utc),
    )
    with pytest.raises(ValidationError):
        submit_survey(
            participant=participant,
            user=user,
            ranked_themes=["enjeux"],
            now=datetime(2021, 5, 18, 7, 30, tzinfo=utc),
        )
    assert choices(participant) == [(1, "outils")]


def test_survey_page_says_it_is_closed_from_the_first_seance(
    client, participant, user, time_machine
):
    submit_survey(participant=participant, user=user, ranked_themes=["enjeux", "outils"])
    closed = (
        "Le sondage est clos : la première séance a commencé le 18 mai 2021 à 9 h 30. "
        "Les réponses ne peuvent plus être envoyées ni modifiées."
    )

    time_machine.move_to(FIRST_SEANCE_STARTS - timedelta(seconds=1), tick=False)
    client.force_login(user)
    response = client.get(sondage_url(participant))
    assert response.status_code == 200
    assert closed not in page_text(response)
    assert "Envoyer mes réponses" in page_text(response)

    time_machine.move_to(FIRST_SEANCE_STARTS, tick=False)
    response = client.get(sondage_url(participant))
    assert response.status_code == 200
    text = page_text(response)
    assert closed in text
    assert "Envoyer mes réponses" not in text
    assert "<form" not in response.content.decode()
    assert text.index(THEME_LABELS["enjeux"]) < text.index(THEME_LABELS["outils"])

    response = client.post(sondage_url(participant), {"rang_diversite": "1"})
    assert response.status_code == 400
    assert closed in page_text(response)
    assert choices(participant) == [(1, "enjeux"), (2, "outils")]


# ---------------------------------------------------------------------------------------------
# Demo


def snapshot():
    return {
        "cycles": list(Cycle.objects.values_list("pk", "titre")),
        "seances": list(
            Seance.objects.order_by("numero").values_list(
                "numero", "date", "etat", "lieu", "themes", "note_contexte", "note_envoyee_at"
            )
        ),
        "participants": list(Participant.objects.values_list("pk", "statut", "confirme_at")),
        "membres": list(
            MembreBinome.objects.order_by("pk").values_list("pk", "email", "titulaire")
        ),
        "presences": list(
            Presence.objects.order_by("pk").values_list("pk", "statut", "remplacant", "recorded_at")
        ),
        "envois": EnvoiNoteContexte.objects.count(),
        "reponses": list(ReponseSondage.objects.values_list("pk", "submitted_at")),
        "choix": ChoixTheme.objects.count(),
        "documents": list(DocumentSeance.objects.values_list("pk", "fichier")),
        "published": list(Decision.objects.values_list("pk", "published_at")),
    }


def test_seed_cycle_builds_the_cycle_as_it_stands_and_is_idempotent(staff):
    appel = AppelFactory(edition_2021=True, slug="2021")
    for _ in range(3):
        decisions_services.decide(
            candidature=submitted_candidature(appel),
            issue=Issue.RETENUE,
            staff_user=staff,
            now=datetime(2021, 4, 8, 14, 0, tzinfo=PARIS),
        )

    # Seen on 1 December 2021: séances 1–4 held, séance 5's note not due before the 4th.
    half_way = datetime(2021, 12, 1, 12, 0, tzinfo=PARIS)
    counts = seed_cycle(appel, staff_user=staff, now=half_way)

    assert mail.outbox == []  # the publication's letters went to the dummy backend
    assert counts == {
        "decisions_publiees": 3,
        "seances_modifiees": 6,  # séance 7 keeps what ensure_cycle gave it
        "participants_inscrits": 3,
        "participants_confirmes": 3,
        "suppleants": 2,
        "presences": 24,
        "notes_redigees": 5,
        "notes_envoyees": 4,
        "documents": 1,
        "reponses_sondage": 1,
        "retenues": 3,
    }
    cycle = Cycle.objects.get(appel=appel)
    assert list(cycle.seances.values_list("numero", "date", "etat")) == [
        (1, date(2021, 5, 18), "tenue"),
        (2, date(2021, 7, 6), "tenue"),
        (3, date(2021, 9, 28), "tenue"),
        (4, date(2021, 11, 9), "tenue"),
        (5, date(2021, 12, 14), "confirmee"),
        (6, date(2022, 2, 8), "prevue"),
        (7, date(2022, 3, 29), "prevue"),
    ]
    assert cycle.seances.get(numero=1).lieu == "Loos-en-Gohelle"
    assert all(cycle.seances.exclude(numero=7).values_list("themes", flat=True))
    assert Participant.objects.filter(cycle=cycle, statut="confirme").count() == 3
    assert MembreBinome.objects.filter(titulaire=True).count() == 6
    assert MembreBinome.objects.filter(titulaire=False).count() == 2
    statuts = sorted(Presence.objects.values_list("statut", flat=True))
    assert statuts.count("present") == 21
    assert (statuts.count("excuse"), statuts.count("absent"), statuts.count("remplace")) == (
        1,
        1,
        1,
    )
    replaced = Presence.objects.get(statut="remplace")
    assert replaced.remplacant.participant_id == replaced.membre.participant_id
    assert not replaced.remplacant.titulaire
    assert cycle.seances.filter(note_envoyee_at__isnull=False).count() == 4
    assert cycle.seances.exclude(note_contexte="").count() == 5
    assert EnvoiNoteContexte.objects.count() == 4 * 8
    document = DocumentSeance.objects.get()
    assert (document.seance.numero, document.titre, document.type_mime, document.taille) == (
        2,
        "Support de la conférence-débat",
        "application/pdf",
        document.fichier.size,
    )
    with document.fichier.open("rb") as handle:
        assert "Support de la conférence-débat" in pdf_text(handle)
    assert ReponseSondage.objects.count() == 1
    assert len(list(cycle.participants.filter(sondage__isnull=True))) == 2
    before = snapshot()

    again = seed_cycle(appel, staff_user=staff, now=half_way)

    assert again == {**dict.fromkeys(counts, 0), "retenues": 3}
    assert snapshot() == before
    assert mail.outbox == []

    # Seen today: every séance of 2021 is held, the cycle is over.
    today = seed_cycle(appel, staff_user=staff)
    assert (today["seances_modifiees"], today["presences"], today["notes_envoyees"]) == (3, 18, 3)
    assert set(cycle.seances.values_list("etat", flat=True)) == {"tenue"}
    assert cycle_is_over(cycle)
    assert mail.outbox == []


def test_the_running_editions_cycle_straddles_any_day():
    """The running edition's séances, seen from the day the demo is first loaded: séances 1–4
    held, the last one 1 to 7 days before, all on Tuesdays."""
    for offset in range(14):
        today = date(2026, 12, 6) + timedelta(days=offset)
        dates = seance_dates(first_seance_for(today))
        assert {day.weekday() for day in dates} == {1}
        assert 1 <= (today - dates[3]).days <= 7
        assert dates[4] > today
