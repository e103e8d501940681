"""The journal de bord: services (author only, at least one prompt, history), visibility
(private, binôme, shared; list, direct URL, shared journal, tour de table), access rules."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cycle.journal.forms import EntreeJournalForm
from cycle.journal.services import (
    WITHDRAWN,
    delete_entry,
    shared_by_seance,
    update_entry,
    write_entry,
)
from cycle.models import EntreeJournal, MembreBinome, Participant, ReponseFacilitateur, Seance
from tests.cycle.factories import CycleFactory, ParticipantFactory, straddle_today
from tests.factories import StaffFactory, UserFactory
from tests.utils import page_text

V = EntreeJournal.Visibilite

pytestmark = pytest.mark.django_db


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def auteur():
    return UserFactory(email="claire@arras.test")


@pytest.fixture
def partenaire():
    return UserFactory(email="ines@arras.test")


@pytest.fixture
def participant(cycle, auteur, partenaire):
    participant = ParticipantFactory(cycle=cycle, createur=auteur)
    # The binôme partner signs in as a member of the same participation.
    participant.membres.filter(role=MembreBinome.Role.TECHNICIEN).update(user=partenaire)
    return participant


@pytest.fixture
def autre():
    return UserFactory(email="marc@lens.test")


@pytest.fixture
def autre_participant(cycle, autre):
    return ParticipantFactory(cycle=cycle, createur=autre)


def seance(cycle, numero):
    return Seance.objects.get(cycle=cycle, numero=numero)


def write(participant, auteur, visibilite=V.PRIVEE, seance=None, **prompts):
    prompts = prompts or {"points_forts": "La boussole de la participation."}
    return write_entry(
        participant=participant, auteur=auteur, seance=seance, visibilite=visibilite, **prompts
    )


def url(name, participant, *args):
    return reverse(f"cycle:{name}", args=[participant.pk, *args])


# Services ------------------------------------------------------------------------------------


def test_write_entry_is_private_by_default(participant, auteur):
    entree = write_entry(
        participant=participant,
        auteur=auteur,
        seance=seance(participant.cycle, 1),
        points_forts="  Les outils  ",
        points_vigilance="",
        idees="",
        marges_progression="",
    )
    assert entree.visibilite == V.PRIVEE
    assert entree.points_forts == "Les outils"
    assert entree.history.count() == 1
    assert entree.history.first().history_user == auteur


def test_write_entry_needs_one_prompt(participant, auteur):
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, points_forts="  ", idees="")
    assert "Renseignez au moins une rubrique" in error.value.messages[0]
    assert not EntreeJournal.objects.exists()


def test_write_entry_refuses_a_stranger_and_another_cycles_seance(participant, autre, auteur):
    with pytest.raises(PermissionDenied):
        write(participant, autre)
    other_cycle_seance = ParticipantFactory().cycle.seances.first()
    assert other_cycle_seance.cycle_id != participant.cycle_id
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, seance=other_cycle_seance)
    assert "n'appartient pas au cycle" in str(error.value)


def test_write_entry_refuses_a_seance_not_started_but_an_entry_keeps_its_own(participant, auteur):
    seance = participant.cycle.seances.get(numero=7)
    Seance.objects.filter(pk=seance.pk).update(date=timezone.localdate() + timedelta(days=30))
    seance.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, seance=seance)
    assert error.value.message_dict == {
        "seance": [
            "Cette séance n'a pas encore commencé : rattachez l'entrée à une séance passée ou "
            "à « entre deux séances »."
        ]
    }
    assert not EntreeJournal.objects.exists()

    # Written when the séance had started (then moved by staff): editing keeps it attached.
    Seance.objects.filter(pk=seance.pk).update(date=timezone.localdate() - timedelta(days=1))
    seance.refresh_from_db()
    entree = write(participant, auteur, seance=seance)
    Seance.objects.filter(pk=seance.pk).update(date=timezone.localdate() + timedelta(days=30))
    update_entry(entree=entree, auteur=auteur, idees="Toujours d'actualité.")
    entree.refresh_from_db()
    assert (entree.seance_id, entree.idees) == (seance.pk, "Toujours d'actualité.")


def test_update_keeps_history_and_sharing_can_be_withdrawn(participant, auteur):
    entree = write(participant, auteur)
    update_entry(entree=entree, auteur=auteur, visibilite=V.PARTAGEE, idees="Un budget.")
    entree.refresh_from_db()
    assert entree.visibilite == V.PARTAGEE
    assert entree.idees == "Un budget."
    assert entree.history.count() == 2
    update_entry(entree=entree, auteur=auteur, visibilite=V.PRIVEE)
    entree.refresh_from_db()
    assert entree.visibilite == V.PRIVEE
    assert entree.history.count() == 3
    # Nothing changed: no new version.
    update_entry(entree=entree, auteur=auteur, visibilite=V.PRIVEE)
    assert entree.history.count() == 3


def test_only_the_author_updates_or_deletes(participant, auteur, partenaire):
    entree = write(participant, auteur, visibilite=V.BINOME)
    with pytest.raises(PermissionDenied):
        update_entry(entree=entree, auteur=partenaire, idees="Pas à moi.")
    with pytest.raises(PermissionDenied):
        delete_entry(entree=entree, auteur=partenaire)
    with pytest.raises(ValidationError):
        update_entry(entree=entree, auteur=auteur, points_forts="")
    with pytest.raises(TypeError):
        update_entry(entree=entree, auteur=auteur, auteur_id=partenaire.pk)
    delete_entry(entree=entree, auteur=auteur)
    assert not EntreeJournal.objects.exists()
    assert EntreeJournal.history.filter(id=entree.pk, history_type="-").count() == 1


# Visibility ----------------------------------------------------------------------------------


def test_readable_by(participant, autre_participant, auteur, partenaire, autre):
    privee = write(participant, auteur, V.PRIVEE)
    binome = write(participant, auteur, V.BINOME)
    partagee = write(participant, auteur, V.PARTAGEE)
    readable = EntreeJournal.objects.readable_by
    assert set(readable(auteur)) == {privee, binome, partagee}
    assert set(readable(partenaire)) == {binome, partagee}
    assert set(readable(autre)) == {partagee}
    assert set(readable(StaffFactory())) == {partagee}


def test_private_entry_invisible_to_partner_and_other_collectivite(
    client, participant, autre_participant, auteur, partenaire, autre
):
    privee = write(participant, auteur, V.PRIVEE, points_forts="Secret de Claire")
    client.force_login(partenaire)
    assert "Secret de Claire" not in page_text(client.get(url("journal", participant)))
    assert client.get(url("journal_modifier", participant, privee.pk)).status_code == 404
    assert client.post(url("journal_supprimer", participant, privee.pk)).status_code == 404
    assert "Secret de Claire" not in page_text(client.get(url("journal_partage", participant)))

    client.force_login(autre)
    assert client.get(url("journal", participant)).status_code == 404
    assert client.get(url("journal_modifier", participant, privee.pk)).status_code == 404
    assert client.get(url("journal_modifier", autre_participant, privee.pk)).status_code == 404
    assert "Secret de Claire" not in page_text(
        client.get(url("journal_partage", autre_participant))
    )
    assert EntreeJournal.objects.filter(pk=privee.pk).exists()


def test_binome_entry_visible_to_partner_only(
    client, participant, autre_participant, auteur, partenaire, autre
):
    write(participant, auteur, V.BINOME, idees="Pour Inès seulement")
    client.force_login(partenaire)
    content = page_text(client.get(url("journal", participant)))
    assert "Pour Inès seulement" in content
    assert "Modifier" not in content  # the partner reads, only the author edits
    client.force_login(autre)
    assert "Pour Inès seulement" not in page_text(
        client.get(url("journal_partage", autre_participant))
    )


def written_at(entree, moment):
    EntreeJournal.objects.filter(pk=entree.pk).update(created_at=moment)
    entree.refresh_from_db()
    return entree


def test_shared_entry_on_the_latest_seance_reaches_its_tour_de_table(
    client, cycle, participant, autre_participant, auteur, partenaire, autre
):
    """Defect 3 of issue 13: written for the latest séance and shared, an entry sat under
    « Depuis la dernière séance » with no tour de table."""
    seances = straddle_today(cycle, held=2)
    client.force_login(auteur)
    response = client.post(
        url("journal", participant),
        {"seance": seances[1].pk, "visibilite": V.PARTAGEE, "points_forts": "Carto Party"},
    )
    assert response.status_code == 302
    # « Entre deux séances », written now: about what happened since séance 2.
    client.force_login(partenaire)
    client.post(url("journal", participant), {"visibilite": V.PARTAGEE, "idees": "Un lundi"})
    assert EntreeJournal.objects.filter(visibilite=V.PARTAGEE).count() == 2

    client.force_login(autre)
    content = page_text(client.get(url("journal_partage", autre_participant)))
    s2_part = content[content.index("Séance 2 —") :]
    assert "Depuis la dernière séance" in s2_part
    assert "Carto Party" in s2_part
    assert "Un lundi" in s2_part
    assert url("tour_de_table", autre_participant, 2) in s2_part
    # Séances to come have nothing to show yet.
    assert "Séance 3 —" not in content
    assert "Depuis la dernière séance" not in content[: content.index("Séance 2 —")]

    projected = page_text(client.get(url("tour_de_table", autre_participant, 2)))
    assert participant.candidature.collectivite.nom in projected
    assert "Carto Party" in projected
    assert "Un lundi" in projected
    assert "1 / 1" in projected


def test_shared_journal_groups_entries_by_seance_held(
    client, participant, autre_participant, auteur, autre
):
    """An entry is read under the séance it is about; « entre deux séances », under the séance
    held when it was written (séance N from its start to séance N+1's start, Paris time);
    before the first séance, in a block of its own."""
    cycle = participant.cycle
    s1, s2, s3 = (seance(cycle, n) for n in (1, 2, 3))
    avant = written_at(
        write(participant, auteur, V.PARTAGEE, idees="Avant la première"),
        s1.starts_at - timedelta(days=1),
    )
    # About séance 1, written during it.
    carto = written_at(
        write(participant, auteur, V.PARTAGEE, seance=s1, points_forts="Carto Party réussie"),
        s1.starts_at + timedelta(hours=3),
    )
    ReponseFacilitateur.objects.create(entree=carto, texte="Bravo, à raconter en séance 2 !")
    # « Entre deux séances », one second before séance 2 starts: still séance 1.
    budget = written_at(
        write(participant, auteur, V.PARTAGEE, idees="Budget participatif"),
        s2.starts_at - timedelta(seconds=1),
    )
    # About séance 1, written after séance 2 started: séance 1 still.
    mobiliser = written_at(
        write(autre_participant, autre, V.PARTAGEE, seance=s1, points_vigilance="Mobiliser"),
        s2.starts_at + timedelta(days=2),
    )
    # « Entre deux séances », exactly when séance 2 starts: séance 2.
    pile = written_at(write(participant, auteur, V.PARTAGEE, idees="Pile à l'heure"), s2.starts_at)
    apres = written_at(
        write(participant, auteur, V.PARTAGEE, seance=s3, idees="Séance trois"),
        s3.starts_at + timedelta(seconds=1),
    )
    assert s2.starts_at.tzinfo is not None
    assert timezone.localtime(s2.starts_at).time() == s2.heure_debut

    seances = list(cycle.seances.order_by("numero"))
    entries = sorted(
        [avant, carto, budget, mobiliser, pile, apres], key=lambda e: (e.created_at, e.pk)
    )
    # Seen the day after séance 3: séances 4–7 are to come.
    now = s3.starts_at + timedelta(days=1)
    blocks = shared_by_seance(entries, seances, now=now)
    arras = participant.candidature.collectivite
    lens = autre_participant.candidature.collectivite
    by_name = sorted([arras, lens], key=lambda c: c.nom)
    expected_s1 = [(c, [carto, budget] if c == arras else [mobiliser]) for c in by_name]
    assert [(b["seance"], b["courante"], b["collectivites"]) for b in blocks] == [
        (None, False, [(arras, [avant])]),
        (s1, False, expected_s1),
        (s2, False, [(arras, [pile])]),
        (s3, True, [(arras, [apres])]),
    ]

    # The cycle's dates are 2021's: every séance held, séance 7 the current one.
    client.force_login(autre)
    content = page_text(client.get(url("journal_partage", autre_participant)))
    before = content[content.index("Avant la première séance") : content.index("Séance 1 —")]
    s1_part = content[content.index("Séance 1 —") : content.index("Séance 2 —")]
    s2_part = content[content.index("Séance 2 —") : content.index("Séance 3 —")]
    assert "Avant la première" in before
    for texte in ("Carto Party réussie", "Bravo, à raconter en séance 2 !", "Budget participatif"):
        assert texte in s1_part
    assert "Mobiliser" in s1_part
    assert "Pile à l'heure" in s2_part
    assert "Pile à l'heure" not in s1_part

    names = [c.nom for c in by_name]
    first = page_text(client.get(url("tour_de_table", autre_participant, 1)))
    assert names[0] in first
    assert "1 / 2" in first
    assert "Suivant" in first
    second = page_text(client.get(url("tour_de_table", autre_participant, 1) + "?i=1"))
    assert names[1] in second
    assert "2 / 2" in second
    assert "Précédent" in second
    assert "Suivant" not in second
    assert client.get(url("tour_de_table", autre_participant, 99)).status_code == 404


def test_current_and_next_seance_turn_at_the_start_time_in_paris(cycle):
    s2 = seance(cycle, 2)
    seances = list(cycle.seances.order_by("numero"))
    just_before = s2.starts_at - timedelta(seconds=1)
    # 9 h 30 in Paris on 6 July 2021, whatever the server's zone: 7 h 30 UTC (summer time).
    assert s2.starts_at.astimezone(UTC) == datetime(2021, 7, 6, 7, 30, tzinfo=UTC)
    assert cycle.current_seance(just_before) == seance(cycle, 1)
    assert cycle.next_seance(just_before) == s2
    assert cycle.current_seance(s2.starts_at) == s2
    assert cycle.next_seance(s2.starts_at) == seance(cycle, 3)
    assert Seance.held_at(seances, s2.starts_at) == s2
    assert Seance.next_after(seances, just_before) == s2
    assert cycle.current_seance(seances[0].starts_at - timedelta(days=1)) is None
    assert cycle.next_seance(seances[-1].starts_at) is None
    assert list(cycle.seances.started(s2.starts_at)) == seances[:2]
    assert list(cycle.seances.upcoming(s2.starts_at)) == seances[2:]


# Views ---------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, participant):
    for name, args in [
        ("journal", []),
        ("journal_partage", []),
        ("tour_de_table", [1]),
    ]:
        response = client.get(url(name, participant, *args))
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/")


def test_write_edit_delete_through_the_views(client, participant, auteur):
    client.force_login(auteur)
    response = client.post(url("journal", participant), {"visibilite": V.PRIVEE, "seance": ""})
    assert response.status_code == 200
    assert "Renseignez au moins une rubrique" in page_text(response)

    response = client.post(
        url("journal", participant),
        {"visibilite": V.PRIVEE, "seance": seance(participant.cycle, 1).pk, "idees": "Tester"},
    )
    assert response.status_code == 302
    entree = EntreeJournal.objects.get()
    assert entree.auteur == auteur
    assert entree.seance.numero == 1

    response = client.post(
        url("journal_modifier", participant, entree.pk),
        {"visibilite": V.PARTAGEE, "seance": "", "idees": "Tester encore"},
    )
    assert response.status_code == 302
    content = page_text(client.get(url("journal", participant)))
    assert "Tester encore" in content
    assert "2 versions" in content
    assert "modifiée le" in content

    assert client.get(url("journal_supprimer", participant, entree.pk)).status_code == 405
    client.post(url("journal_supprimer", participant, entree.pk))
    assert not EntreeJournal.objects.exists()


def test_list_query_count_does_not_grow(client, participant, auteur, partenaire):
    client.force_login(auteur)
    client.get("/")  # the session now remembers the menu's cycle check
    write(participant, auteur)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url("journal", participant)).status_code == 200
    for visibilite in [V.PRIVEE, V.BINOME, V.PARTAGEE]:
        write(participant, auteur, visibilite)
    for texte in ("Merci", "Encore merci"):  # replies are shown too, with the same queries
        ReponseFacilitateur.objects.create(
            entree=EntreeJournal.objects.get(visibilite=V.PARTAGEE), texte=texte
        )
    write(participant, partenaire, V.BINOME)
    update_entry(
        entree=EntreeJournal.objects.filter(auteur=auteur).first(), auteur=auteur, idees="Encore"
    )
    with CaptureQueriesContext(connection) as five:
        assert client.get(url("journal", participant)).status_code == 200
    assert EntreeJournal.objects.count() == 5
    assert len(five) == len(one)


def test_facilitators_project_the_tour_de_table_with_shared_entries_only(
    client, cycle, participant, auteur
):
    from cerdd_ami.permissions import sync_role_permissions
    from tests.factories import charge_de_mission

    sync_role_permissions()
    s1 = cycle.seances.get(numero=1)
    before = s1.starts_at - timedelta(days=1)
    written_at(write(participant, auteur, V.PARTAGEE, s1, idees="Partagée."), before)
    written_at(write(participant, auteur, V.PRIVEE, s1, idees="Secrète."), before)
    client.force_login(charge_de_mission())

    shared = page_text(client.get(url("journal_partage", participant)))
    projected = page_text(client.get(url("tour_de_table", participant, 1)))

    assert "Partagée." in shared
    assert "Partagée." in projected
    assert "Secrète." not in shared + projected


def staff_and_entry(participant, auteur):
    from cerdd_ami.permissions import sync_role_permissions
    from tests.factories import charge_de_mission

    sync_role_permissions()
    return charge_de_mission(), write(participant, auteur, V.PARTAGEE, idees="À commenter")


def test_staff_on_the_shared_journal_get_reply_links_not_my_journal(client, participant, auteur):
    staff, entree = staff_and_entry(participant, auteur)
    client.force_login(staff)
    content = page_text(client.get(url("journal_partage", participant)))
    reply_url = reverse("admin:cycle_entreejournal_repondre", args=[entree.pk])
    assert "Mon journal de bord" not in content
    assert content.count(f'href="{reply_url}"') == 1
    assert client.get(reply_url).status_code == 200

    client.force_login(auteur)
    content = page_text(client.get(url("journal_partage", participant)))
    assert content.count(f'href="{url("journal", participant)}">Mon journal de bord</a>') == 1
    assert "Répondre" not in content
    assert reply_url not in content


def test_journal_page_says_who_reads_what_and_links_the_pdf(client, participant, auteur):
    client.force_login(auteur)
    response = client.get(url("journal", participant))
    content = page_text(response)
    assert (
        "L'équipe du Cerdd ne lit que les entrées partagées avec tout le cycle, qui alimentent "
        "la capitalisation du cycle ; jamais vos entrées privées ni celles réservées au binôme."
    ) in content
    labels = [str(label) for _value, label in response.context["form"].fields["visibilite"].choices]
    assert labels == [
        "Privée (moi seul·e)",
        "Mon binôme, nos suppléant·es et référent·es",
        "Partagée avec tout le cycle",
    ]
    assert "Mon binôme, nos suppléant·es et référent·es" in content
    pdf = reverse("cycle:journal_pdf", args=[participant.pk])
    assert content.count(f'<a href="{pdf}">Télécharger mon journal de bord (PDF)</a>') == 1


def test_withdrawn_participation_reads_but_no_longer_writes(client, participant, auteur):
    entree = write(participant, auteur, idees="Écrite avant le retrait")
    Participant.objects.filter(pk=participant.pk).update(statut=Participant.Statut.RETIRE)
    participant.refresh_from_db()
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, idees="Après le retrait")
    assert error.value.messages == [WITHDRAWN]

    client.force_login(auteur)
    response = client.post(
        url("journal", participant), {"visibilite": V.PRIVEE, "seance": "", "idees": "Encore"}
    )
    assert response.status_code == 302
    assert list(EntreeJournal.objects.values_list("pk", flat=True)) == [entree.pk]
    # The refusal as a message, and in place of the form.
    content = page_text(client.get(response["Location"]))
    assert content.count(WITHDRAWN) == 2
    assert page_text(client.get(url("journal", participant))).count(WITHDRAWN) == 1
    assert "Écrite avant le retrait" in content
    assert "Enregistrer l'entrée" not in content
    assert WITHDRAWN == (
        "Votre collectivité s'est retirée du cycle : vous pouvez relire votre journal de bord, "
        "mais plus y écrire de nouvelle entrée."
    )


def test_entry_form_offers_only_seances_already_started(client, participant, auteur):
    today = timezone.localdate()
    seances = list(participant.cycle.seances.order_by("numero"))
    for offset, s in enumerate(seances):
        Seance.objects.filter(pk=s.pk).update(date=today + timedelta(days=7 * (offset - 1)))
    # Séance 2 is today: started only if its start time has passed.
    now = timezone.localtime()
    started = [seances[0].pk] + ([seances[1].pk] if now.time() >= seances[1].heure_debut else [])
    form = EntreeJournalForm(participant=participant)
    assert list(form.fields["seance"].queryset.values_list("pk", flat=True)) == started

    client.force_login(auteur)
    response = client.post(
        url("journal", participant),
        {"visibilite": V.PRIVEE, "seance": seances[2].pk, "idees": "Trop tôt"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["seance"] == [
        "Sélectionnez un choix valide. Ce choix ne fait pas partie de ceux disponibles."
    ]
    assert not EntreeJournal.objects.exists()


def test_a_staff_reply_shows_on_the_authors_entry_and_mails_them_once(
    client, participant, auteur, mailoutbox, django_capture_on_commit_callbacks
):
    """Defect 6 of issue 13: replies were only shown in the shared journal, and nobody told."""
    staff, entree = staff_and_entry(participant, auteur)
    auteur.first_name, auteur.last_name = "Claire", "Dupont"
    auteur.save()
    client.force_login(staff)
    reply_url = reverse("admin:cycle_entreejournal_repondre", args=[entree.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reply_url, {"texte": "Belle idée !\nÀ raconter en séance."})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    link = f"{settings.SITE_URL}{url('journal', participant)}#entree-{entree.pk}"
    assert message.to == [auteur.email]
    assert message.subject == "Réponse de l'équipe du Cerdd à votre entrée du journal de bord"
    assert "Belle idée !\nÀ raconter en séance." in message.body
    assert "À commenter" in message.body
    assert link in message.body
    html = message.alternatives[0][0]
    assert "Belle idée !<br>À raconter en séance." in html
    assert f'href="{link}"' in html

    client.force_login(auteur)
    content = page_text(client.get(url("journal", participant)))
    article = content[content.index(f'id="entree-{entree.pk}"') :]
    article = article[: article.index("</article>")]
    assert "<strong>Réponse de l'équipe :</strong> Belle idée !<br>À raconter en séance." in article


def test_shared_journal_before_the_first_seance_says_so(client, cycle, participant, auteur):
    straddle_today(cycle, held=0)
    client.force_login(auteur)
    content = page_text(client.get(url("journal_partage", participant)))
    assert "Aucune séance n'a encore eu lieu" in content
    assert "Séance 1 —" not in content
