"""The participant side of the cycle: séances and calendar files, who comes next time,
withdrawal.
"""

import datetime
import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
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
from tests.candidatures.connexion.test_signin import ask_link, link_in, local
from tests.cycle.factories import MembreBinomeFactory, ParticipantFactory, straddle_today
from tests.cycle.participants.participants_helpers import qui_vient_of
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db


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


def test_by_user_gives_what_of_user_gives_for_each_person_in_two_queries(
    django_assert_num_queries,
):
    referent, retired = UserFactory(), UserFactory()  # référent·es of their dossiers
    arras = ParticipantFactory(createur=referent)
    lens = ParticipantFactory(cycle=arras.cycle)
    ParticipantFactory(cycle=arras.cycle, createur=retired, statut=Participant.Statut.RETIRE)
    linked = UserFactory(email="lie@binome.exemple.test")
    MembreBinomeFactory(participant=lens, user=linked)
    by_email = UserFactory(email="sonia.petit@mairie.exemple.test")
    MembreBinomeFactory(participant=arras, email="Sonia.Petit@Mairie.Exemple.test")
    MembreBinomeFactory(participant=lens, email="SONIA.PETIT@mairie.exemple.test")
    stranger = UserFactory()
    people = [referent, linked, by_email, stranger, retired]
    actifs = Participant.objects.filter(cycle=arras.cycle).actifs()

    with django_assert_num_queries(2):
        found = actifs.by_user(people)

    assert found == {
        person.pk: sorted(actifs.of_user(person).values_list("pk", flat=True)) for person in people
    }
    assert found == {
        referent.pk: [arras.pk],
        linked.pk: [lens.pk],
        by_email.pk: sorted([arras.pk, lens.pk]),
        stranger.pk: [],
        retired.pk: [],
    }
