"""Every URL (applying, jury, decisions, cycle), for every role, with the answer expected.

A new page that is not added here is a page whose permissions nobody checked: extend the
table when you add one.
"""

import zoneinfo
from datetime import datetime

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from candidatures.decisions import publication
from candidatures.decisions import services as decisions_services
from candidatures.dossiers import submission
from candidatures.jury import services as jury_services
from candidatures.messagerie import services as messagerie_services
from candidatures.models import Collectivite, ConflitInteret, Evaluation, Export, MembreJury
from cerdd_ami.models import Tache
from cerdd_ami.notifications.services import unsubscribe_token
from cerdd_ami.permissions import sync_role_permissions
from cycle import models as cycle_models
from cycle.journal.capitalisation import declare_engagement
from cycle.journal.services import write_entry
from cycle.models import EntreeJournal
from cycle.participants import services as participant_services
from cycle.questions import services as question_services
from cycle.reseau import services as reseau_services
from cycle.seances import services as seance_services
from tests.candidatures.factories import AppelFactory, CritereFactory, complete_candidature
from tests.factories import UserFactory, charge_de_mission, juror

pytestmark = pytest.mark.django_db
PARIS = zoneinfo.ZoneInfo("Europe/Paris")

ROLES = ["anonyme", "candidat", "autre_candidat", "jure", "jure_en_conflit", "charge"]

# URL template -> expected status per role, in the order of ROLES.
MATRIX = {
    "/": [200, 200, 200, 200, 200, 200],
    "/appel/2021/": [200, 200, 200, 200, 200, 200],
    "/connexion/": [200, 200, 200, 200, 200, 200],
    "/collectivites/recherche/?appel=2021&q=arras": [200, 200, 200, 200, 200, 200],
    "/candidature/": [302, 200, 200, 200, 200, 200],
    "/candidature/{pk}/": [302, 200, 404, 404, 404, 404],
    "/candidature/{pk}/etape/1/": [302, 200, 404, 404, 404, 404],
    "/candidature/{pk}/etape/4/": [302, 200, 404, 404, 404, 404],
    "/candidature/{pk}/mes-donnees/": [302, 200, 404, 404, 404, 404],
    "/candidature/{pk}/pieces/{piece}/": [404, 200, 404, 200, 404, 200],
    "/candidature/{pk}/recu/1/": [404, 200, 404, 200, 404, 200],
    "/candidature/{pk}/courrier/": [302, 200, 404, 404, 404, 404],
    # The dossier's thread: its référent·es and staff (from the admin), never a juror.
    "/candidature/{pk}/messages/": [302, 200, 404, 404, 404, 404],
    "/candidature/{pk}/messages/{message}/fichier/": [302, 200, 404, 404, 404, 200],
    "/admin/candidatures/message/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/message/dossier/{pk}/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/message/{message}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/": [302, 302, 302, 200, 200, 200],
    "/admin/cerdd_ami/tache/": [302, 302, 302, 403, 403, 200],
    "/admin/cerdd_ami/tache/{tache}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/candidature/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/candidature/{pk}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/brouillon/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/collectivite/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/jury/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/classement/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/classement.csv": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/classement.xlsx": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/notes.csv": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/notes.xlsx": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/proces-verbal.pdf": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/appel/{appel}/edition-suivante/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/critere/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/membrejury/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/affectation/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/conflitinteret/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/evaluation/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/decision/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/envoicourrier/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/modelecourrier/": [302, 302, 302, 403, 403, 200],
    # Exports prepared by the worker: the requester's own (the chargée de mission here).
    "/admin/candidatures/export/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/export/{export}/statut/": [302, 302, 302, 404, 404, 200],
    "/admin/candidatures/export/{export}/telecharger/": [302, 302, 302, 404, 404, 200],
    "/admin/candidatures/dossierjury/": [302, 302, 302, 200, 200, 403],
    "/admin/candidatures/dossierjury/{pk}/change/": [302, 302, 302, 200, 404, 404],
    "/admin/candidatures/dossierjury/{pk}/evaluer/": [302, 302, 302, 200, 404, 403],
    "/admin/candidatures/dossierjury/{pk}/deporter/": [302, 302, 302, 200, 404, 403],
    # No history nor deletion on the jury's dossier pages, for anyone: 404 (the dossier's
    # history is on the staff dossier page; a juror's changes are in their évaluation).
    "/admin/candidatures/dossierjury/{pk}/history/": [302, 302, 302, 404, 404, 404],
    "/admin/candidatures/dossierjury/{pk}/delete/": [302, 302, 302, 404, 404, 404],
    # The staff jury pages: a juror reads no évaluation page or history, not even their own
    # (independence: those pages are the staff's), nor the conflicts register.
    "/admin/candidatures/evaluation/{evaluation}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/evaluation/{evaluation}/history/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/conflitinteret/{conflit}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/conflitinteret/{conflit}/history/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/conflitinteret/add/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/affectation/add/": [302, 302, 302, 403, 403, 200],
    "/admin/candidatures/membrejury/add/": [302, 302, 302, 403, 403, 200],
    "/admin/cerdd_ami/user/": [302, 302, 302, 403, 403, 200],
    "/cycle/": [302, 200, 200, 200, 200, 200],
    "/cycle/{participant}/binome/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/seances/1/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/seances/1.ics": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/seances/1/documents/{document}/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/attestations/": [302, 200, 404, 404, 404, 404],
    # Nobody attended a séance here: not eligible, so 404 for the référent·e too (the staff
    # attestation below answers the same; eligible ones: tests/cycle/presences/).
    "/cycle/{participant}/attestations/{membre}.pdf": [302, 404, 404, 404, 404, 404],
    "/cycle/{participant}/calendrier.ics": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/retrait/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/sondage/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/engagements/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/engagements/cycle/": [302, 200, 404, 404, 404, 404],
    # Questions au Cerdd: the participation's people ask and read; staff answer in the admin.
    "/cycle/{participant}/questions/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/questions/{question}/fichier/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/faq/": [302, 200, 404, 404, 404, 404],
    "/admin/cycle/questioncerdd/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/questioncerdd/{question}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/questioncerdd/{question}/repondre/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/questioncerdd/{question}/fichier/": [302, 302, 302, 403, 403, 200],
    # Only superusers delete a question (an erasure the DPO asked for).
    "/admin/cycle/questioncerdd/{question}/delete/": [302, 302, 302, 403, 403, 403],
    "/admin/cycle/entreefaq/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/entreefaq/{faq}/change/": [302, 302, 302, 403, 403, 200],
    "/cycle/{participant}/journal.pdf": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/journal/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/journal-partage/": [302, 200, 404, 404, 404, 200],
    "/cycle/{participant}/journal-partage/tour-de-table/1/": [302, 200, 404, 404, 404, 200],
    "/admin/cycle/entreejournal/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/entreejournal/capitalisation/{cycle}.pdf": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/entreejournal/entrees/{cycle}.xlsx": [302, 302, 302, 403, 403, 200],
    "/cycle/{participant}/journal/{entree_privee}/modifier/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/journal/{entree_partagee}/modifier/": [302, 200, 404, 404, 404, 404],
    # POST only: a GET is refused before anything else, for everybody.
    "/cycle/{participant}/journal/{entree_privee}/supprimer/": [405, 405, 405, 405, 405, 405],
    # Staff never reach a private (or binôme) entry: 404, as if it did not exist.
    "/admin/cycle/entreejournal/{entree_privee}/change/": [302, 302, 302, 403, 403, 404],
    "/admin/cycle/entreejournal/{entree_privee}/repondre/": [302, 302, 302, 403, 403, 404],
    "/admin/cycle/entreejournal/{entree_privee}/history/": [302, 302, 302, 404, 404, 404],
    "/admin/cycle/entreejournal/{entree_partagee}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/entreejournal/{entree_partagee}/repondre/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/entreejournal/{entree_partagee}/history/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/engagement/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/engagement/{engagement}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/cycle/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/cycle/{cycle}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/cycle/{cycle}/grille/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/cycle/{cycle}/presences.xlsx": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/cycle/{cycle}/attestations/{membre}.pdf": [302, 302, 302, 403, 403, 404],
    "/admin/cycle/seance/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/seance/{seance}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/seance/{seance}/emargement.pdf": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/seance/{seance}/presences/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/seance/{seance}/documents/{document}/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/participant/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/presence/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/envoinotecontexte/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/reponsesondage/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/reponsesondage/resultats/{cycle}/": [302, 302, 302, 403, 403, 200],
    # Notifications: each person's own; the unsubscribe link's signed token is its credential.
    "/notifications/": [302, 200, 200, 200, 200, 200],
    "/notifications/tout-marquer-lu/": [405, 405, 405, 405, 405, 405],
    "/notifications/desabonnement/{desabonnement}/": [200, 200, 200, 200, 200, 200],
    "/notifications/desabonnement/faux-jeton/": [404, 404, 404, 404, 404, 404],
    # Le réseau des participant·es: the cycle's people only; staff read and moderate from the
    # admin, not from the participants' pages.
    "/cycle/{participant}/reseau/annuaire/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/reseau/mes-donnees/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/reseau/discussions/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/reseau/discussions/{discussion}/": [302, 200, 404, 404, 404, 404],
    "/cycle/{participant}/reseau/discussions/{discussion}/messages/{message_reseau}/fichier/": [
        302,
        200,
        404,
        404,
        404,
        404,
    ],
    # POST only: a GET is refused before anything else, for everybody.
    "/cycle/{participant}/reseau/annuaire/accord/": [405, 405, 405, 405, 405, 405],
    "/cycle/{participant}/reseau/discussions/{discussion}/suivre/": [405, 405, 405, 405, 405, 405],
    "/admin/cycle/discussion/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/discussion/{discussion}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/messagereseau/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/messagereseau/{message_reseau}/change/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/messagereseau/{message_reseau}/masquer/": [302, 302, 302, 403, 403, 200],
    "/admin/cycle/consentementannuaire/": [302, 302, 302, 403, 403, 200],
}


@pytest.fixture
def world():
    sync_role_permissions()
    appel = AppelFactory(edition_2021=True, slug="2021")
    CritereFactory(appel=appel, ordre=1)
    candidat = UserFactory(email="mairie@arras.test")
    dossier = complete_candidature(
        appel=appel, collectivite=Collectivite.objects.get(insee="62041"), createur=candidat
    )
    with TestCase.captureOnCommitCallbacks(execute=True):  # the receipt's task
        submission.submit_candidature(
            candidature=dossier, user=candidat, now=datetime(2021, 3, 1, 12, tzinfo=PARIS)
        )
    charge = charge_de_mission()
    decisions_services.decide(candidature=dossier, issue="retenue", staff_user=charge)
    publication.publish_decisions(appel=appel, staff_user=charge)
    cycle = seance_services.ensure_cycle(appel)
    participant_services.enrol_retained(cycle=cycle)
    participant = dossier.participation
    seance = cycle.seances.get(numero=1)
    document = cycle_models.DocumentSeance(
        seance=seance,
        titre="Support",
        nom_original="support.pdf",
        type_mime="application/pdf",
        taille=12,
    )
    document.fichier.save("support.pdf", ContentFile(b"%PDF-1.4 doc"), save=False)
    document.save()
    entree_privee, entree_partagee = (
        write_entry(
            participant=participant,
            auteur=candidat,
            seance=seance,
            idees=f"Entrée {visibilite}",
            visibilite=visibilite,
        )
        for visibilite in (EntreeJournal.Visibilite.PRIVEE, EntreeJournal.Visibilite.PARTAGEE)
    )
    discussion = reseau_services.start_discussion(
        participant=participant,
        auteur=candidat,
        titre="Mobiliser les jeunes",
        texte="Comment faites-vous ?",
        uploaded_file=SimpleUploadedFile("cr.pdf", b"%PDF-1.4 cr", content_type="application/pdf"),
    )
    engagement = declare_engagement(
        participant=participant, user=candidat, nature="outil", description="Une Carto Party"
    )
    jure, jure_en_conflit = juror(), juror()
    MembreJury.objects.create(appel=appel, user=jure)
    MembreJury.objects.create(
        appel=appel,
        user=jure_en_conflit,
        collectivite=Collectivite.objects.get(siren="200033579"),
    )
    # The juror's évaluation (the other juror must never read its history), and the detected
    # conflict of the juror of the CU d'Arras, in the register.
    evaluation = Evaluation.objects.create(candidature=dossier, jure=jure)
    jury_services.refresh_conflicts(appel=appel)
    conflit = ConflitInteret.objects.get(jure=jure_en_conflit)
    tache = Tache.objects.create(
        task_path="candidatures.retention.purge_personal_data",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=timezone.now(),
    )
    export = Export.objects.create(
        requested_by=charge, kind=Export.Kind.PROCES_VERBAL, appel=appel, statut="pret", total=1
    )
    export.fichier.save("exports/pv.pdf", ContentFile(b"%PDF-1.4 pv"))
    message = messagerie_services.post_message(
        candidature=dossier,
        auteur=charge,
        texte="Bonjour",
        fichier=SimpleUploadedFile("note.pdf", b"%PDF-1.4 note"),
    )
    question = question_services.ask_question(
        participant=participant,
        auteur=candidat,
        texte="Une question",
        fichier=SimpleUploadedFile("question.pdf", b"%PDF-1.4 question"),
    )
    question_services.answer_question(question=question, staff_user=charge, reponse="Oui")
    faq = question_services.publish_to_faq(
        question=question, staff_user=charge, question_texte="Une question", reponse="Oui"
    )
    users = {
        "anonyme": None,
        "candidat": candidat,
        "autre_candidat": UserFactory(email="mairie@lens.test"),
        "jure": jure,
        "jure_en_conflit": jure_en_conflit,
        "charge": charge,
    }
    values = {
        "pk": dossier.pk,
        "piece": dossier.pieces.get().pk,
        "appel": appel.pk,
        "cycle": cycle.pk,
        "participant": participant.pk,
        "seance": cycle.seances.get(numero=1).pk,
        "membre": participant.membres.first().pk,
        "document": document.pk,
        "entree_privee": entree_privee.pk,
        "entree_partagee": entree_partagee.pk,
        "engagement": engagement.pk,
        "discussion": discussion.pk,
        "message_reseau": discussion.messages.get().pk,
        "evaluation": evaluation.pk,
        "conflit": conflit.pk,
        "tache": tache.pk,
        "export": export.pk,
        "desabonnement": unsubscribe_token(candidat),
        "message": message.pk,
        "question": question.pk,
        "faq": faq.pk,
    }
    return users, values


def test_every_url_answers_each_role_as_expected(client, world):
    users, values = world
    observed, expected = {}, {}
    for role in ROLES:
        client.logout()
        if users[role] is not None:
            client.force_login(users[role])
        for template, statuses in MATRIX.items():
            url = template.format(**values)
            observed[(url, role)] = client.get(url).status_code
            expected[(url, role)] = statuses[ROLES.index(role)]

    differences = {
        key: (observed[key], expected[key]) for key in expected if observed[key] != expected[key]
    }
    assert differences == {}


NOTE_URL = "/cycle/{participant}/seances/1/note/"
# Participant pages for the people around a participation, beyond the columns of MATRIX.
PARTICIPANT_ROLES = ["anonyme", "referent", "membre_non_referent", "non_retenu", "charge"]


def test_participant_urls_for_binome_members_and_applicants_not_retained(client, world):
    users, values = world
    participant = cycle_models.Participant.objects.get(pk=values["participant"])
    seance = participant.cycle.seances.get(numero=1)
    seance.note_contexte_fichier.save("note-seance-1.pdf", ContentFile(b"%PDF-1.4 note"))
    seance.note_envoyee_at = participant.cycle.appel.announcement_at
    seance.save()
    # The technicien·ne of the binôme: no access to the dossier, an account made after enrolment.
    technicien = participant.membres.get(role="technicien", titulaire=True)
    assert not participant.candidature.acces.filter(user__email__iexact=technicien.email).exists()
    not_retained = UserFactory(email="mairie@liévin.test")
    complete_candidature(
        appel=participant.cycle.appel,
        collectivite=Collectivite.objects.get(insee="62510"),
        createur=not_retained,
    )
    people = {
        "anonyme": None,
        "referent": users["candidat"],
        "membre_non_referent": UserFactory(email=technicien.email.upper()),
        "non_retenu": not_retained,
        "charge": users["charge"],
    }
    # The participation's pages (those about one author's journal entry are left to MATRIX).
    templates = [
        t
        for t in MATRIX
        if t.startswith("/cycle/{participant}/") and t.count("{") == 1 and set(MATRIX[t]) != {405}
    ] + [NOTE_URL]
    observed = {}
    for role in PARTICIPANT_ROLES:
        client.logout()
        if people[role] is not None:
            client.force_login(people[role])
        for template in templates:
            observed[(template, role)] = client.get(template.format(**values)).status_code

    expected = {}
    for template in templates:
        staff = 200 if "journal-partage" in template else 404
        for role, status in zip(PARTICIPANT_ROLES, [302, 200, 200, 404, staff], strict=True):
            expected[(template, role)] = status
    differences = {
        key: (observed[key], expected[key]) for key in expected if observed[key] != expected[key]
    }
    assert differences == {}
