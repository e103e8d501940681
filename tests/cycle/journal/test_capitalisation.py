"""Journal de bord, Cerdd side: shared entries only in the admin, replies, commitments to
experiment and their progress, the participant's journal PDF, the capitalisation PDF and XLSX."""

import io
import re
import zoneinfo
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from cerdd_ami.permissions import sync_role_permissions
from cycle.journal.capitalisation import (
    capitalisation_context,
    declare_engagement,
    record_progress,
    reply,
)
from cycle.journal.demo import seed_journal
from cycle.models import (
    AvancementEngagement,
    Engagement,
    EntreeJournal,
    MembreBinome,
    Presence,
    ReponseFacilitateur,
)
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import CycleFactory, MembreBinomeFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import page_text, pdf_text

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = pytest.mark.django_db


def entree(participant, auteur, visibilite, texte, seance=None):
    return EntreeJournal.objects.create(
        participant=participant,
        auteur=auteur,
        seance=seance or participant.cycle.seances.get(numero=1),
        points_forts=texte,
        visibilite=visibilite,
    )


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


@pytest.fixture
def partner(participant):
    """The other member of the binôme, with an account."""
    member = participant.membres.get(role=MembreBinome.Role.TECHNICIEN, titulaire=True)
    member.user = UserFactory(email="tech@exemple.test")
    member.save()
    return member.user


@pytest.fixture
def other_user():
    return UserFactory(email="autre@exemple.test")


@pytest.fixture
def other(participant, other_user):
    return ParticipantFactory(cycle=participant.cycle, createur=other_user)


@pytest.fixture
def entries(participant, user, partner):
    V = EntreeJournal.Visibilite
    return {
        "partagee": entree(participant, user, V.PARTAGEE, "La boussole de la participation"),
        "privee": entree(participant, user, V.PRIVEE, "Mon doute sur le calendrier"),
        "binome": entree(participant, partner, V.BINOME, "À dire au maire lundi"),
        "privee_partenaire": entree(participant, partner, V.PRIVEE, "Note perso du technicien"),
    }


# ---------------------------------------------------------------------------------------------
# Staff: shared entries only, replies


def test_staff_list_shows_shared_entries_only_and_says_so(client, staff, entries):
    client.force_login(staff)
    response = client.get(reverse("admin:cycle_entreejournal_changelist"))
    assert response.status_code == 200
    text = page_text(response)
    assert "L'équipe du Cerdd ne lit que les entrées partagées avec le cycle." in text
    assert list(response.context["cl"].queryset) == [entries["partagee"]]


def test_private_entry_admin_url_is_404(client, staff, entries):
    client.force_login(staff)
    for key in ("privee", "binome"):
        url = reverse("admin:cycle_entreejournal_change", args=[entries[key].pk])
        assert client.get(url).status_code == 404
        url = reverse("admin:cycle_entreejournal_repondre", args=[entries[key].pk])
        assert client.get(url).status_code == 404
    url = reverse("admin:cycle_entreejournal_change", args=[entries["partagee"].pk])
    response = client.get(url)
    assert response.status_code == 200
    assert "La boussole de la participation" in page_text(response)


def test_reply_to_shared_entry_works_and_to_private_one_is_refused(client, staff, entries):
    reponse = reply(entree=entries["partagee"], staff_user=staff, texte="Merci, à creuser !")
    assert list(ReponseFacilitateur.objects.values_list("entree", "auteur", "texte")) == [
        (entries["partagee"].pk, staff.pk, "Merci, à creuser !")
    ]
    assert reponse.entree == entries["partagee"]
    for key in ("privee", "binome"):
        with pytest.raises(PermissionDenied):
            reply(entree=entries[key], staff_user=staff, texte="Non")
    with pytest.raises(PermissionDenied):
        reply(entree=entries["partagee"], staff_user=juror(), texte="Un juré ne répond pas")
    assert ReponseFacilitateur.objects.count() == 1

    client.force_login(staff)
    url = reverse("admin:cycle_entreejournal_repondre", args=[entries["partagee"].pk])
    response = client.post(url, {"texte": "Une deuxième réponse."})
    assert response.status_code == 302
    assert entries["partagee"].reponses.count() == 2


def test_anonymous_and_juror(client, participant, entries):
    cycle = participant.cycle
    urls = [
        reverse("admin:cycle_entreejournal_changelist"),
        reverse("admin:cycle_entreejournal_capitalisation", args=[cycle.pk]),
        reverse("admin:cycle_entreejournal_xlsx", args=[cycle.pk]),
        reverse("admin:cycle_entreejournal_repondre", args=[entries["partagee"].pk]),
        reverse("admin:cycle_engagement_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert "login" in response["Location"]
    for url in [
        reverse("cycle:engagements", args=[participant.pk]),
        reverse("cycle:engagements_cycle", args=[participant.pk]),
        reverse("cycle:journal_pdf", args=[participant.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    sync_role_permissions()
    client.force_login(juror())
    for url in urls:
        assert client.get(url).status_code == 403


# ---------------------------------------------------------------------------------------------
# Commitments


def test_declare_and_record_progress(participant, user):
    engagement = declare_engagement(
        participant=participant,
        user=user,
        nature=Engagement.Nature.OUTIL,
        description="Tester la Carto Party dans le quartier de la gare",
    )
    avancement = record_progress(
        engagement=engagement,
        user=user,
        statut=Engagement.Statut.EN_COURS,
        texte="Première Carto Party le 12 juin",
        date=date(2021, 6, 14),
    )
    assert list(
        Engagement.objects.values_list(
            "participant", "nature", "description", "statut", "created_by"
        )
    ) == [
        (
            participant.pk,
            "outil",
            "Tester la Carto Party dans le quartier de la gare",
            "en_cours",
            user.pk,
        )
    ]
    assert list(
        AvancementEngagement.objects.values_list("engagement", "date", "statut", "texte", "auteur")
    ) == [
        (engagement.pk, date(2021, 6, 14), "en_cours", "Première Carto Party le 12 juin", user.pk)
    ]
    assert avancement.engagement_id == engagement.pk


def test_participant_views_declare_and_progress(client, participant, user):
    client.force_login(user)
    url = reverse("cycle:engagements", args=[participant.pk])
    response = client.post(
        url, {"action": "declarer", "nature": "echange", "description": "Visite à Loos"}
    )
    assert response.status_code == 302
    engagement = Engagement.objects.get()
    response = client.post(
        url,
        {
            "action": "avancement",
            "engagement": engagement.pk,
            "statut": "realise",
            "date": "2021-09-01",
            "texte": "Visite faite avec six élu·es",
        },
    )
    assert response.status_code == 302
    engagement.refresh_from_db()
    assert engagement.statut == "realise"
    text = page_text(client.get(url))
    assert "Visite à Loos" in text
    assert "Visite faite avec six élu·es" in text


def test_other_collectivite_reads_cycle_view_but_cannot_add_progress(
    client, participant, user, other, other_user
):
    engagement = declare_engagement(
        participant=participant,
        user=user,
        nature=Engagement.Nature.PRESENTATION_ELUS,
        description="Présenter le cycle en conseil municipal",
    )
    client.force_login(other_user)
    response = client.get(reverse("cycle:engagements_cycle", args=[other.pk]))
    assert response.status_code == 200
    assert "Présenter le cycle en conseil municipal" in page_text(response)
    # Their own page refuses another collectivité's commitment; my page is not theirs.
    response = client.post(
        reverse("cycle:engagements", args=[other.pk]),
        {"action": "avancement", "engagement": engagement.pk, "statut": "realise", "texte": "x"},
    )
    assert response.status_code == 404
    assert client.get(reverse("cycle:engagements", args=[participant.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        record_progress(engagement=engagement, user=other_user, statut="realise", texte="x")
    assert not AvancementEngagement.objects.exists()
    engagement.refresh_from_db()
    assert engagement.statut == "prevu"


def test_staff_engagement_list(client, staff, participant, user):
    engagement = declare_engagement(
        participant=participant, user=user, nature="amo", description="Recruter une AMO"
    )
    record_progress(
        engagement=engagement,
        user=user,
        statut="en_cours",
        texte="Cahier des charges",
        date=date(2021, 10, 5),
    )
    client.force_login(staff)
    response = client.get(reverse("admin:cycle_engagement_changelist"))
    assert response.status_code == 200
    text = page_text(response)
    assert str(participant) in text
    assert "Recruter une AMO" in text
    assert "5 octobre 2021" in text
    response = client.get(reverse("admin:cycle_engagement_change", args=[engagement.pk]))
    assert response.status_code == 200
    assert "Cahier des charges" in page_text(response)


def test_staff_reading_commitments_may_not_write_them(staff, participant, user):
    engagement = declare_engagement(
        participant=participant, user=user, nature="amo", description="Recruter une AMO"
    )
    assert staff.has_perm("cycle.view_engagement")
    with pytest.raises(PermissionDenied):
        record_progress(engagement=engagement, user=staff, statut="realise", texte="Fait")
    with pytest.raises(PermissionDenied):
        declare_engagement(participant=participant, user=staff, nature="amo", description="x")
    assert list(Engagement.objects.values_list("pk", flat=True)) == [engagement.pk]
    assert AvancementEngagement.objects.count() == 0

    # Given the add permissions, the team may.
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="cycle",
            codename__in=["add_engagement", "add_avancementengagement"],
        )
    )
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached per instance
    record_progress(engagement=engagement, user=staff, statut="realise", texte="Fait")
    declare_engagement(participant=participant, user=staff, nature="amo", description="Une AMO")
    assert AvancementEngagement.objects.count() == 1
    assert Engagement.objects.count() == 2


def test_failed_progress_keeps_what_was_typed_with_errors_beside_the_fields(
    client, participant, user
):
    engagement = declare_engagement(
        participant=participant, user=user, nature="amo", description="Recruter une AMO"
    )
    client.force_login(user)
    url = reverse("cycle:engagements", args=[participant.pk])
    future = (date.today() + timedelta(days=30)).isoformat()
    response = client.post(
        url,
        {
            "action": "avancement",
            "engagement": engagement.pk,
            "statut": "en_cours",
            "date": future,
            "texte": "Cahier des charges rédigé",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    pk = engagement.pk
    textarea = re.search(rf'<textarea [^>]*id="texte-{pk}"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea.group(1) == "Cahier des charges rédigé"
    date_input = re.search(rf'<input [^>]*id="date-{pk}"[^>]*>', html).group(0)
    assert f'value="{future}"' in date_input
    assert f'aria-describedby="date-{pk}-erreur"' in date_input
    selected = re.findall(r'<option value="(\w+)" selected>', html)
    assert selected == ["en_cours"]
    error = re.search(rf'<div [^>]*id="date-{pk}-erreur">(.*?)</div>', html, re.S).group(1)
    assert error == "La date ne peut pas être dans le futur."
    # Beside the field, not in a list at the top.
    assert html.index(f'id="date-{pk}"') < html.index(f'id="date-{pk}-erreur"')
    assert html.index(f'id="date-{pk}-erreur"') < html.index(f'id="texte-{pk}"')
    assert "<details open>" in html

    response = client.post(
        url,
        {"action": "avancement", "engagement": pk, "statut": "en_cours", "date": "", "texte": ""},
    )
    html = response.content.decode()
    error = re.search(rf'<div [^>]*id="texte-{pk}-erreur">(.*?)</div>', html, re.S).group(1)
    assert error == "Ce champ est obligatoire."
    assert AvancementEngagement.objects.count() == 0


# ---------------------------------------------------------------------------------------------
# Exports


def test_participant_journal_pdf(client, participant, user, partner, entries):
    client.force_login(user)
    response = client.get(reverse("cycle:journal_pdf", args=[participant.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Mon doute sur le calendrier" in text
    assert "dire au maire lundi" in text
    assert "Note perso du technicien" not in text


def test_capitalisation_pdf(client, staff, participant, user, entries):
    engagement = declare_engagement(
        participant=participant,
        user=user,
        nature="outil",
        description="Budget participatif des écoles",
    )
    record_progress(
        engagement=engagement,
        user=user,
        statut="en_cours",
        texte="Vote des élèves en mai",
        date=date(2021, 6, 1),
    )
    seance = participant.cycle.seances.get(numero=1)
    for membre in participant.membres.filter(titulaire=True):
        Presence.objects.create(seance=seance, membre=membre, statut=Presence.Statut.PRESENT)
    client.force_login(staff)
    response = client.get(
        reverse("admin:cycle_entreejournal_capitalisation", args=[participant.cycle.pk])
    )
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "La boussole de la participation" in text
    assert "Mon doute sur le calendrier" not in text
    assert "dire au maire lundi" not in text
    assert "Budget participatif des écoles" in text
    assert "Vote des élèves en mai" in text
    assert "1 / 1" in text  # séances attended / recorded


def test_capitalisation_groups_entries_under_the_seance_they_are_read_at(
    client, staff, participant, user
):
    """Same rule as the shared journal: séance N holds the shared entries written since séance
    N-1 started; each prompt's heading comes before its items, inside its séance."""
    V = EntreeJournal.Visibilite
    s1, s2 = (participant.cycle.seances.get(numero=n) for n in (1, 2))

    def written(texte, moment, seance=None, visibilite=V.PARTAGEE, field="points_forts"):
        e = EntreeJournal.objects.create(
            participant=participant,
            auteur=user,
            seance=seance,
            visibilite=visibilite,
            created_at=moment,
            **{field: texte},
        )
        return e

    written("Avant la séance un", s1.starts_at - timedelta(days=2))
    written("Pendant la séance un", s1.starts_at + timedelta(hours=2), seance=s1)
    written("Entre deux, idée", s2.starts_at - timedelta(days=1), field="idees")
    written("Après la dernière", participant.cycle.seances.last().starts_at + timedelta(1))
    written("Secret privé", s1.starts_at + timedelta(hours=3), visibilite=V.PRIVEE)

    context = capitalisation_context(participant.cycle)
    structure = [
        (
            block["titre"].split(" —")[0],
            [(p["label"], [i["texte"] for i in p["items"]]) for p in block["prompts"]],
        )
        for block in context["seances"]
    ]
    assert structure == [
        ("Avant la première séance", [("Points forts retenus", ["Avant la séance un"])]),
        (
            "Séance 1",
            [
                ("Points forts retenus", ["Pendant la séance un"]),
                ("Idées", ["Entre deux, idée"]),
            ],
        ),
        ("Séance 7", [("Points forts retenus", ["Après la dernière"])]),
    ]

    client.force_login(staff)
    response = client.get(
        reverse("admin:cycle_entreejournal_capitalisation", args=[participant.cycle.pk])
    )
    text = pdf_text(response.content)
    assert "Secret privé" not in text
    section = text[text.index("Séance 1 —") : text.index("Séance 7 —")]
    assert "Avant la séance un" not in section
    assert section.index("Points forts retenus") < section.index("Pendant la séance un")
    assert section.index("Pendant la séance un") < section.index("Idées")
    assert section.index("Idées") < section.index("Entre deux, idée")
    first = text[text.index("Avant la première séance") : text.index("Séance 1 —")]
    assert first.index("Points forts retenus") < first.index("Avant la séance un")
    assert "Entre deux séances" not in text


def test_admin_list_counts_replies_in_one_query(client, staff, participant, user):
    def shared(texte):
        e = entree(participant, user, EntreeJournal.Visibilite.PARTAGEE, texte)
        ReponseFacilitateur.objects.create(entree=e, texte="Merci")
        ReponseFacilitateur.objects.create(entree=e, texte="Encore merci")
        return e

    shared("Première")
    client.force_login(staff)
    url = reverse("admin:cycle_entreejournal_changelist")
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert [row._nombre_reponses for row in response.context["cl"].result_list] == [2]
    for n in range(6):
        shared(f"Entrée {n}")
    with CaptureQueriesContext(connection) as seven:
        response = client.get(url)
    assert [row._nombre_reponses for row in response.context["cl"].result_list] == [2] * 7
    assert len(seven) == len(one)


def test_entries_xlsx_file_name_says_the_year_once(client, staff):
    """Named like the other admin exports (the call, then when), not by the cycle's title cut
    at 40 characters (« journal-cycle-2021-2021-06-01… » for a cycle titled with its year)."""
    cycle = CycleFactory(appel=AppelFactory(edition_2021=True, slug="2021"), titre="Cycle 2021")
    client.force_login(staff)

    with time_machine.travel(datetime(2021, 6, 1, 10, 5, tzinfo=PARIS), tick=False):
        response = client.get(reverse("admin:cycle_entreejournal_xlsx", args=[cycle.pk]))

    assert response["Content-Disposition"] == 'attachment; filename="journal-2021-06-01-10h05.xlsx"'


def test_entries_xlsx_has_shared_entries_only(client, staff, participant, entries):
    client.force_login(staff)
    response = client.get(reverse("admin:cycle_entreejournal_xlsx", args=[participant.cycle.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert rows[1][2] == str(participant)
    assert rows[1][4] == "La boussole de la participation"


# ---------------------------------------------------------------------------------------------
# Demo data


def test_seed_journal_is_idempotent():
    cycle = CycleFactory()
    participants = [ParticipantFactory(cycle=cycle, createur=UserFactory()) for _ in range(3)]
    MembreBinomeFactory(participant=participants[0])
    first = seed_journal(cycle)
    counts = (
        EntreeJournal.objects.count(),
        ReponseFacilitateur.objects.count(),
        Engagement.objects.count(),
        AvancementEngagement.objects.count(),
    )
    assert first["entrees"] == counts[0] > 0
    assert seed_journal(cycle)["entrees"] == 0
    assert counts == (
        EntreeJournal.objects.count(),
        ReponseFacilitateur.objects.count(),
        Engagement.objects.count(),
        AvancementEngagement.objects.count(),
    )
    assert set(EntreeJournal.objects.values_list("visibilite", flat=True)) == set(
        EntreeJournal.Visibilite.values
    )
    assert set(Engagement.objects.values_list("nature", flat=True)) == set(Engagement.Nature.values)
    assert ReponseFacilitateur.objects.exists()
