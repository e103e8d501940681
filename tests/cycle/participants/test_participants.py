"""The participant side of the cycle: enrolment, binôme, séances, calendar files, withdrawal."""

import datetime
import re
import zoneinfo
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from candidatures.models import Decision, Issue
from cerdd_ami.formats import format_weekday_date_fr
from cerdd_ami.models import User
from cycle.models import MembreBinome, Participant, Presence, Seance
from cycle.participants import services
from cycle.seances import services as seance_services
from tests.candidatures.connexion.test_signin import ask_link, link_in, local
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import (
    CycleFactory,
    MembreBinomeFactory,
    ParticipantFactory,
    retain,
    straddle_today,
    submitted_candidature,
)
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

BINOME_POST = {
    "elu_nom": "Claire Dupont",
    "elu_fonction": "Adjointe à la démocratie participative",
    "elu_email": "Claire.Dupont@mairie.exemple.test",
    "elu_telephone": "06 12 34 56 78",
    "technicien_nom": "Karim Benali",
    "technicien_fonction": "Chargé de mission transition",
    "technicien_email": "karim.benali@mairie.exemple.test",
    "technicien_telephone": "03 21 50 50 51",
    "suppleant_elu_nom": "Lucie Lefebvre",
    "suppleant_elu_fonction": "Conseillère municipale",
    "suppleant_elu_email": "lucie.lefebvre@mairie.exemple.test",
    "suppleant_elu_telephone": "",
    "suppleant_technicien_nom": "",
    "suppleant_technicien_fonction": "",
    "suppleant_technicien_email": "",
    "suppleant_technicien_telephone": "",
}


def members_of(participant):
    return sorted(
        participant.membres.values_list(
            "role", "titulaire", "nom", "fonction", "email", "telephone", "user__email"
        )
    )


# ---------------------------------------------------------------------------------------------
# The cycle and its séances


def test_ensure_cycle_creates_the_seven_seances_of_the_2021_edition_once():
    appel = AppelFactory(edition_2021=True)
    cycle = seance_services.ensure_cycle(appel)
    assert seance_services.ensure_cycle(appel) == cycle
    seances = list(cycle.seances.order_by("numero"))
    assert [(s.numero, s.date) for s in seances] == [
        (1, datetime.date(2021, 5, 18)),
        (2, datetime.date(2021, 7, 6)),
        (3, datetime.date(2021, 9, 28)),
        (4, datetime.date(2021, 11, 9)),
        (5, datetime.date(2021, 12, 14)),
        (6, datetime.date(2022, 2, 8)),
        (7, datetime.date(2022, 3, 29)),
    ]
    assert all(s.date.weekday() == 1 for s in seances)  # real Tuesdays
    assert seances[0].lieu == "Loos-en-Gohelle"
    assert seances[0].collectivite_hote.insee == "62528"
    assert {s.lieu for s in seances[1:]} == {"À définir"}
    assert seances[1].programme_dejeuner == "Déjeuner en commun."
    assert seances[1].programme_apres_midi == (
        "Exercices de mise en situation et d'appropriation des acquis de la matinée."
    )


def test_ensure_cycle_of_another_edition_steps_six_weeks():
    appel = AppelFactory(first_session_date=datetime.date(2022, 5, 17))
    cycle = seance_services.ensure_cycle(appel)
    dates = list(cycle.seances.order_by("numero").values_list("date", flat=True))
    assert dates == [datetime.date(2022, 5, 17) + datetime.timedelta(weeks=6 * i) for i in range(7)]


# ---------------------------------------------------------------------------------------------
# Enrolment


def test_enrol_counts_only_published_retained_decisions_without_withdrawal():
    cycle = CycleFactory()
    appel = cycle.appel
    referent = UserFactory(email="claire.dupont@arras.exemple.test")
    retained = submitted_candidature(appel)
    retain(retained)
    staged = submitted_candidature(appel)
    retain(staged, published=False)
    waiting = submitted_candidature(appel)
    retain(waiting, issue=Issue.LISTE_ATTENTE)
    refused = submitted_candidature(appel)
    retain(refused, issue=Issue.NON_RETENUE)
    withdrawn = submitted_candidature(appel)
    retain(withdrawn, desistement_at=appel.announcement_at)

    assert services.enrol_retained(cycle=cycle) == 1
    assert services.enrol_retained(cycle=cycle) == 0  # idempotent
    participant = Participant.objects.get()
    assert participant.candidature == retained
    assert participant.statut == Participant.Statut.A_CONFIRMER
    assert retained.collectivite.nom == "Arras"
    assert members_of(participant) == [
        (
            "elu",
            True,
            "Claire Dupont",
            "Adjointe déléguée à la démocratie participative",
            "claire.dupont@arras.exemple.test",
            "06 12 34 56 78",
            referent.email,
        ),
        (
            "technicien",
            True,
            "Julien Martin",
            "Chargé de mission développement durable",
            "julien.martin@arras.exemple.test",
            "03 21 50 50 51",
            None,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Access


def test_anonymous_visitors_are_sent_to_the_sign_in_page(client):
    participant = ParticipantFactory()
    for url in (
        reverse("cycle:espace"),
        reverse("cycle:binome", args=[participant.pk]),
        reverse("cycle:seance", args=[participant.pk, 1]),
        reverse("cycle:seance_ics", args=[participant.pk, 1]),
        reverse("cycle:calendrier_ics", args=[participant.pk]),
        reverse("cycle:retrait", args=[participant.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/?next=")


def test_another_collectivites_participation_is_a_404(client):
    mine = ParticipantFactory(createur=UserFactory())
    theirs = ParticipantFactory(cycle=mine.cycle)
    client.force_login(mine.candidature.acces.get().user)
    for url in (
        reverse("cycle:binome", args=[theirs.pk]),
        reverse("cycle:seance", args=[theirs.pk, 1]),
        reverse("cycle:seance_ics", args=[theirs.pk, 1]),
        reverse("cycle:calendrier_ics", args=[theirs.pk]),
        reverse("cycle:retrait", args=[theirs.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("cycle:retrait", args=[theirs.pk]), {"motif": "x"}).status_code == 404
    )
    theirs.refresh_from_db()
    assert theirs.statut == Participant.Statut.A_CONFIRMER


def test_a_collectivite_not_retained_has_no_participation(client):
    cycle = CycleFactory()
    applicant = UserFactory()
    candidature = submitted_candidature(cycle.appel, createur=applicant)
    retain(candidature, issue=Issue.NON_RETENUE)
    services.enrol_retained(cycle=cycle)
    client.force_login(applicant)

    response = client.get(reverse("cycle:espace"))

    assert response.status_code == 200
    assert "Votre collectivité ne participe pas au cycle." in page_text(response)
    assert not Participant.objects.of_user(applicant).exists()


# ---------------------------------------------------------------------------------------------
# The binôme


def test_confirming_the_binome_stores_exactly_what_was_confirmed(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    url = reverse("cycle:binome", args=[participant.pk])
    form_page = page_text(client.get(url))
    assert 'value="Claire Dupont"' in form_page  # prefilled from the dossier

    response = client.post(url, BINOME_POST)

    assert response.status_code == 302
    assert response["Location"] == reverse("cycle:espace")
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.CONFIRME
    assert participant.confirme_at is not None
    assert members_of(participant) == [
        (
            "elu",
            False,
            "Lucie Lefebvre",
            "Conseillère municipale",
            "lucie.lefebvre@mairie.exemple.test",
            "",
            "lucie.lefebvre@mairie.exemple.test",
        ),
        (
            "elu",
            True,
            "Claire Dupont",
            "Adjointe à la démocratie participative",
            "claire.dupont@mairie.exemple.test",
            "06 12 34 56 78",
            "claire.dupont@mairie.exemple.test",
        ),
        (
            "technicien",
            True,
            "Karim Benali",
            "Chargé de mission transition",
            "karim.benali@mairie.exemple.test",
            "03 21 50 50 51",
            "karim.benali@mairie.exemple.test",
        ),
    ]
    # Each member can now sign in with a link, and sees the participation as theirs.
    karim = User.objects.get(email="karim.benali@mairie.exemple.test")
    assert not karim.has_usable_password()
    assert list(Participant.objects.of_user(karim)) == [participant]


def test_editing_the_binome_keeps_the_first_confirmation_and_history_records_the_change(client):
    """Defect 5 of issue 13: « Confirmé le 30 avril 2021 » became today's date."""
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    url = reverse("cycle:binome", args=[participant.pk])
    assert client.post(url, BINOME_POST).status_code == 302
    first = datetime.datetime(2021, 4, 30, 10, 0, tzinfo=PARIS)
    Participant.objects.filter(pk=participant.pk).update(confirme_at=first)

    form_page = page_text(client.get(url))
    assert 'value="Enregistrer le binôme"' in form_page
    assert "Confirmer notre participation" not in form_page
    changed = {**BINOME_POST, "technicien_nom": "Karim Benali-Roussel", "suppleant_elu_nom": ""}
    changed |= {"suppleant_elu_fonction": "", "suppleant_elu_email": ""}
    response = client.post(url, changed)

    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.statut, participant.confirme_at) == (Participant.Statut.CONFIRME, first)
    espace = page_text(client.get(reverse("cycle:espace")))
    assert "Confirmé</span> le 30 avril 2021" in espace
    assert "Votre binôme est enregistré." in espace
    karim = participant.membres.get(email="karim.benali@mairie.exemple.test")
    assert [(h.history_type, h.nom, h.history_user) for h in karim.history.order_by("pk")][-1] == (
        "~",
        "Karim Benali-Roussel",
        referent,
    )
    lucie = MembreBinome.history.filter(email="lucie.lefebvre@mairie.exemple.test")
    assert list(lucie.order_by("pk").values_list("history_type", "history_user")) == [
        ("+", referent.pk),
        ("-", referent.pk),
    ]
    confirmations = participant.history.filter(history_user=referent).order_by("pk")
    assert [h.history_change_reason for h in confirmations] == [
        "Participation et binôme confirmés",
        "Binôme modifié",
    ]
    assert confirmations.last().confirme_at == first

    from cerdd_ami.permissions import sync_role_permissions
    from tests.factories import charge_de_mission

    sync_role_permissions()
    client.force_login(charge_de_mission())
    history = page_text(
        client.get(reverse("admin:cycle_participant_history", args=[participant.pk]))
    )
    assert "Binôme modifié" in history
    assert "Participation et binôme confirmés" in history


def test_a_missing_titulaire_is_refused_in_french_and_nothing_changes(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    before = members_of(participant)
    client.force_login(referent)

    response = client.post(
        reverse("cycle:binome", args=[participant.pk]),
        {**BINOME_POST, "technicien_nom": "", "technicien_email": ""},
    )

    assert response.status_code == 200
    text = page_text(response)
    assert "Indiquez le nom et prénom du ou de la technicien·ne titulaire." in text
    assert "Indiquez l'adresse e-mail du ou de la technicien·ne titulaire." in text
    assert members_of(participant) == before
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.A_CONFIRMER


def test_the_service_requires_one_titulaire_per_role():
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    with pytest.raises(ValidationError) as error:
        services.confirm_participation(
            participant=participant,
            user=referent,
            binome=[
                {
                    "role": "elu",
                    "titulaire": True,
                    "nom": "Claire Dupont",
                    "email": "claire@mairie.exemple.test",
                }
            ],
        )
    assert error.value.messages == ["Le binôme compte exactement un·e technicien·ne titulaire."]


# ---------------------------------------------------------------------------------------------
# Séances and calendar files


def test_seance_page_shows_programme_place_and_note(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    Seance.objects.filter(cycle=participant.cycle, numero=2).update(
        lieu="Maison de la participation",
        adresse="12, rue de la Paix, 62000 Arras",
        themes="Les postures de chacun·e",
        note_contexte="Lisez le journal de bord avant de venir.",
    )
    client.force_login(referent)
    url = reverse("cycle:seance", args=[participant.pk, 2])
    # Staff may still be drafting the note: participants see it once it is sent.
    section = re.compile(
        r'<h2 id="note-titre" class="h5">Note de contexte</h2>\s*(.*?)\s*</section>', re.S
    )
    assert section.findall(page_text(client.get(url))) == [
        "<p>La note de contexte vous sera envoyée avant la séance.</p>"
    ]
    Seance.objects.filter(cycle=participant.cycle, numero=2).update(
        note_envoyee_at=participant.cycle.appel.announcement_at
    )

    text = page_text(client.get(url))

    assert "Séance 2 — mardi 6 juillet 2021" in text
    assert "Maison de la participation" in text
    assert "12, rue de la Paix, 62000 Arras" in text
    assert "Les postures de chacun·e" in text
    assert "Lisez le journal de bord avant de venir." in text
    assert "Exercices de mise en situation et d'appropriation des acquis de la matinée." in text


def test_ics_of_one_seance(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    seance = participant.cycle.seances.get(numero=1)
    seance.adresse = "Base 11/19, rue de Bourgogne"
    seance.save()
    client.force_login(referent)

    response = client.get(reverse("cycle:seance_ics", args=[participant.pk, 1]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    content = response.content.decode()
    assert content.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert content.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    lines = content.replace("\r\n ", "").split("\r\n")  # unfolded
    assert "DTSTART:20210518T073000Z" in lines  # 9h30 in Paris, summer time
    assert "DTEND:20210518T143000Z" in lines
    assert f"SUMMARY:Séance 1 — Cycle de qualification — {participant.cycle.appel.titre}" in lines
    assert "LOCATION:Loos-en-Gohelle\\, Base 11/19\\, rue de Bourgogne" in lines
    assert f"UID:seance-{seance.pk}@{urlsplit(settings.SITE_URL).hostname}" in lines
    assert all(len(line.encode()) <= 75 for line in content.split("\r\n"))


def test_ics_of_the_whole_cycle_has_seven_events(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)

    content = client.get(reverse("cycle:calendrier_ics", args=[participant.pk])).content.decode()

    assert content.count("BEGIN:VEVENT\r\n") == 7
    assert content.count("END:VEVENT\r\n") == 7
    assert "DTSTART:20211214T083000Z" in content  # séance 5, winter time (UTC+1)
    assert "DTSTART:20220329T073000Z" in content  # séance 7, summer time since 27 March 2022


# ---------------------------------------------------------------------------------------------
# The space: who comes next time


def test_qui_vient_lists_the_confirmed_binomes(client):
    referent = UserFactory()
    mine = ParticipantFactory(createur=referent)
    confirmed = ParticipantFactory(cycle=mine.cycle)
    confirmed.statut = Participant.Statut.CONFIRME
    confirmed.save()
    MembreBinomeFactory(participant=confirmed, nom="Sonia Petit", fonction="")
    pending = ParticipantFactory(cycle=mine.cycle)
    client.force_login(referent)

    response = client.get(reverse("cycle:espace"))

    text = page_text(response)
    qui_vient = text[text.index("Qui vient la prochaine fois") :]
    # The titulaires come; a suppléant·e only when recorded as replacing one of them.
    assert (
        f"<strong>{confirmed.candidature.collectivite.nom}</strong> : "
        "Claire Dupont (élu·e, Adjointe déléguée à la démocratie participative) ; "
        "Julien Martin (technicien·ne, Chargé de mission développement durable)</li>"
    ) in qui_vient
    # Binômes not confirmed yet (mine included) are not announced.
    assert f"<strong>{pending.candidature.collectivite.nom}</strong>" not in qui_vient
    assert f"<strong>{mine.candidature.collectivite.nom}</strong>" not in qui_vient
    assert "Séance 7" in text


def test_the_space_costs_the_same_queries_for_one_or_five_participants(
    client, django_assert_num_queries
):
    referent = UserFactory()
    mine = ParticipantFactory(createur=referent)
    client.force_login(referent)
    Participant.objects.update(statut=Participant.Statut.CONFIRME)
    url = reverse("cycle:espace")
    client.get(url)  # warm the session

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(4):
        ParticipantFactory(cycle=mine.cycle)
    Participant.objects.update(statut=Participant.Statut.CONFIRME)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert page_text(response).count("Julien Martin (technicien·ne") == 5


# ---------------------------------------------------------------------------------------------
# Withdrawal


def test_withdrawal_frees_the_place(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    url = reverse("cycle:retrait", args=[participant.pk])
    assert "Motif du retrait" in page_text(client.get(url))

    assert "Indiquez le motif du retrait." in page_text(client.post(url, {"motif": " "}))
    response = client.post(url, {"motif": "Élections municipales anticipées"})

    assert response.status_code == 302
    assert response["Location"] == url
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.RETIRE
    decision = Decision.objects.get(candidature=participant.candidature)
    assert (decision.desistement_at, decision.desistement_motif) == (
        participant.retire_at,
        "Élections municipales anticipées",
    )
    history = decision.history.first()
    assert history.history_user == referent
    assert history.history_change_reason == "Désistement : Élections municipales anticipées"
    assert "Le retrait de votre collectivité du cycle est enregistré" in page_text(client.get(url))
    # Withdrawn: the binôme is closed and the place counts as free for promote_next.
    assert client.get(reverse("cycle:binome", args=[participant.pk])).status_code == 302
    assert not Decision.objects.filter(
        candidature__appel=participant.cycle.appel,
        issue=Issue.RETENUE,
        desistement_at__isnull=True,
    ).exists()
    assert MembreBinome.objects.filter(participant=participant).count() == 2


def test_context_note_file_is_served_to_participants_only(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    other = ParticipantFactory(cycle=participant.cycle, createur=UserFactory())
    seance = participant.cycle.seances.get(numero=3)
    seance.note_contexte_fichier.save("note-seance-3.pdf", ContentFile(b"%PDF-1.4 note"))
    url = reverse("cycle:note_contexte", args=[participant.pk, 3])
    client.force_login(referent)
    # Not sent yet: neither linked nor served.
    page = page_text(client.get(reverse("cycle:seance", args=[participant.pk, 3])))
    assert page.count(f'href="{url}"') == 0
    assert client.get(url).status_code == 404
    seance.note_envoyee_at = participant.cycle.appel.announcement_at
    seance.save()

    assert f'href="{url}"' in page_text(
        client.get(reverse("cycle:seance", args=[participant.pk, 3]))
    )
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 note"
    assert client.get(reverse("cycle:note_contexte", args=[other.pk, 3])).status_code == 404
    assert client.get(reverse("cycle:note_contexte", args=[participant.pk, 4])).status_code == 404


def qui_vient_of(text) -> list[tuple[str, str]]:
    qui_vient = text[text.index("Qui vient la prochaine fois") :]
    return re.findall(r"<li><strong>(.*?)</strong> : (.*?)</li>", qui_vient)


def test_qui_vient_leaves_out_people_excused_for_the_next_seance(client):
    referent = UserFactory()
    mine = ParticipantFactory(createur=referent)
    confirmed = ParticipantFactory(cycle=mine.cycle)
    other = ParticipantFactory(cycle=mine.cycle)
    Participant.objects.filter(pk__in=[confirmed.pk, other.pk]).update(
        statut=Participant.Statut.CONFIRME
    )
    sonia = MembreBinomeFactory(participant=other, nom="Sonia Petit", fonction="")
    straddle_today(mine.cycle, held=2)
    seance_3 = Seance.objects.get(cycle=mine.cycle, numero=3)
    julien = confirmed.membres.get(titulaire=True, role=MembreBinome.Role.TECHNICIEN)
    claire = other.membres.get(titulaire=True, role=MembreBinome.Role.ELU)
    Presence.objects.create(seance=seance_3, membre=julien, statut=Presence.Statut.EXCUSE)
    Presence.objects.create(
        seance=seance_3, membre=claire, statut=Presence.Statut.REMPLACE, remplacant=sonia
    )
    # Excused at a séance already held: no bearing on the next one.
    Presence.objects.create(
        seance=Seance.objects.get(cycle=mine.cycle, numero=2),
        membre=confirmed.membres.get(titulaire=True, role=MembreBinome.Role.ELU),
        statut=Presence.Statut.EXCUSE,
    )
    client.force_login(referent)

    text = page_text(client.get(reverse("cycle:espace")))

    assert sorted(qui_vient_of(text)) == sorted(
        [
            (
                confirmed.candidature.collectivite.nom,
                "Claire Dupont (élu·e, Adjointe déléguée à la démocratie participative)",
            ),
            (
                other.candidature.collectivite.nom,
                "Julien Martin (technicien·ne, Chargé de mission développement durable) ; "
                "Sonia Petit (élu·e suppléant·e)",
            ),
        ]
    )


def test_next_seance_is_the_first_not_started_whatever_its_etat(client):
    """Defect 3 of issue 13: the space chose the next séance by état, the journal by date."""
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    # Séances 1–2 held (still « prévue »: nobody ticked « tenue »), 3–7 to come.
    straddle_today(participant.cycle, held=2)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Seance.objects.filter(cycle=participant.cycle, numero=4).update(etat=Seance.Etat.TENUE)
    client.force_login(referent)

    def prochaine():
        text = page_text(client.get(reverse("cycle:espace")))
        section = text[text.index("Prochaine séance</h3>") : text.index("Calendrier des séances")]
        return re.findall(r"<p[^>]*>(.*?)</p>", section, re.S)

    def etats():
        text = page_text(client.get(reverse("cycle:espace")))
        table = text[text.index("Calendrier des séances") : text.index("Qui vient")]
        return [row[3] for row in re.findall(r"<tr>" + r"\s*<td>(.*?)</td>" * 4, table, re.S)]

    third = yesterday + datetime.timedelta(weeks=6)
    assert prochaine() == [
        f'<a href="/cycle/{participant.pk}/seances/3/">Séance 3</a> — '
        f"{format_weekday_date_fr(third)}, 9 h 30–16 h 30 · À définir"
    ]
    assert etats() == ["A eu lieu", "A eu lieu", "Prévue", "Tenue", "Prévue", "Prévue", "Prévue"]
    Seance.objects.filter(cycle=participant.cycle).update(date=yesterday)
    assert prochaine() == ["Toutes les séances du cycle ont eu lieu."]


def test_a_member_whose_account_comes_after_enrolment_signs_in_and_reaches_the_space(
    client, mailoutbox
):
    participant = ParticipantFactory()
    julien = participant.membres.get(role=MembreBinome.Role.TECHNICIEN)
    assert julien.user is None
    assert not User.objects.filter(email__iexact=julien.email).exists()

    ask_link(client, julien.email.upper(), next_url="/cycle/")
    response = client.get(local(link_in(mailoutbox[0])))
    assert response.status_code == 302
    assert response["Location"] == "/cycle/"

    user = User.objects.get(email__iexact=julien.email)
    assert list(Participant.objects.of_user(user)) == [participant]
    response = client.get("/cycle/")
    assert re.findall(r"<p class=\"mb-2\"><strong>(.*?)</strong>", page_text(response)) == [
        participant.candidature.collectivite.nom
    ]
    assert client.get(reverse("cycle:binome", args=[participant.pk])).status_code == 200
    assert client.get(reverse("cycle:seance", args=[participant.pk, 1])).status_code == 200
    # Membership by e-mail goes as far as the services: the member can confirm the binôme,
    # which links their account to their row.
    services.confirm_participation(
        participant=participant,
        user=user,
        binome=services.members_from_referents(participant.candidature),
    )
    julien.refresh_from_db()
    assert julien.user == user


def test_a_member_added_by_staff_reaches_the_space_without_a_linked_account(client):
    participant = ParticipantFactory()
    sonia = MembreBinomeFactory(participant=participant, email="Sonia.Petit@Mairie.Exemple.test")
    user = UserFactory(email="sonia.petit@mairie.exemple.test")
    assert sonia.user is None
    other = ParticipantFactory(cycle=participant.cycle)
    client.force_login(user)

    assert list(Participant.objects.of_user(user)) == [participant]
    assert client.get(reverse("cycle:seance", args=[participant.pk, 1])).status_code == 200
    assert client.get(reverse("cycle:seance", args=[other.pk, 1])).status_code == 404


def test_withdrawal_informs_the_calls_contact(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    referent = UserFactory(email="julien.martin@exemple.test")
    participant = ParticipantFactory(createur=referent)
    collectivite = participant.candidature.collectivite.nom
    client.force_login(referent)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("cycle:retrait", args=[participant.pk]),
            {"motif": "Élections municipales anticipées"},
        )

    participant.refresh_from_db()
    when = services.format_datetime_fr(participant.retire_at)
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["amontaigne@cerdd.org"], f"Retrait du cycle : {collectivite}")
    ]
    message = mailoutbox[0]
    assert message.body == (
        "Bonjour,\n\n"
        f"{collectivite} se retire du cycle « {participant.cycle.titre} ».\n\n"
        f"Retrait enregistré le {when} par {referent.get_full_name()} "
        "(julien.martin@exemple.test).\n\n"
        "Motif :\nÉlections municipales anticipées\n\n"
        "La place est libérée : la liste d'attente peut être sollicitée depuis les décisions.\n"
        "Fiche du participant : "
        f"{settings.SITE_URL}/admin/cycle/participant/{participant.pk}/change/\n\n"
    )
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert "<div><p>Élections municipales anticipées</p></div>" in html
    assert f"<strong>{collectivite}</strong>" in html
