"""Journal de bord, Cerdd side: shared entries only in the admin, replies, commitments to
experiment and their progress, the participant's journal PDF, the capitalisation PDF and XLSX."""

import io
from datetime import date

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import resolve_url
from django.urls import URLResolver, include, path, reverse
from openpyxl import load_workbook
from pypdf import PdfReader

import cerdd_ami.urls
import cycle.admin_journal  # registers the admin until cycle/admin.py imports it
import cycle.urls
from cerdd_ami.permissions import sync_role_permissions
from cycle import views_engagements
from cycle.capitalisation import declare_engagement, record_progress, reply
from cycle.demo_journal import seed_journal
from cycle.models import (
    AvancementEngagement,
    Engagement,
    EntreeJournal,
    MembreBinome,
    Presence,
    ReponseFacilitateur,
)
from tests.cycle.factories import CycleFactory, MembreBinomeFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import page_text

# The participant URLs until cycle/urls.py lists them (same names, same views).
_mine = [
    path(
        "<int:participant_pk>/engagements/",
        views_engagements.engagements,
        name="engagements",
    ),
    path(
        "<int:participant_pk>/engagements/cycle/",
        views_engagements.engagements_cycle,
        name="engagements_cycle",
    ),
    path("<int:participant_pk>/journal.pdf", views_engagements.journal_pdf, name="journal_pdf"),
]
# The admin's URLs are rebuilt here: the project's were computed before this module registered
# the journal's admin (until cycle/admin.py imports it, when this is a no-op).
urlpatterns = [
    path("cycle/", include(([*cycle.urls.urlpatterns, *_mine], "cycle"))),
    path("admin/", admin.site.urls),
    *(
        pattern
        for pattern in cerdd_ami.urls.urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace in ("cycle", "admin"))
    ),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


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
        user=staff,
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
