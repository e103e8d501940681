"""Demo data of a qualification cycle, as it stands on the day the demo is loaded: the séances
held by then (``SeanceQuerySet.started``: the 2021 cycle's seven, the running edition's first
ones) are « tenue » with their attendance and sent context notes; the next one is confirmed,
its context note written (and sent once its sending day has come); one document shared on
séance 2; the needs survey answered by all but two.

Idempotent: everything is looked up before being created, and what exists (maybe edited by
staff since) is left alone, so a second run changes nothing. No e-mail leaves: the decisions'
publication runs with a dummy mail backend and the notes' sending is only logged.
"""

import zoneinfo
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from candidatures.decisions import publication
from candidatures.models import Decision, Issue
from cerdd_ami.pdf import pdf_from_html
from cycle.participants import services as participant_services
from cycle.participants.context_notes import context_note_recipients
from cycle.participants.models import MembreBinome, Participant
from cycle.presences.models import Presence
from cycle.presences.services import record_attendance
from cycle.seances import services as seance_services
from cycle.seances.models import DocumentSeance, EnvoiNoteContexte, Seance
from cycle.sondage import services as sondage
from cycle.sondage.models import THEMES_APPEL, ReponseSondage

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# After the answers (2021: 15 April 9 h): the survey from the 26th, binômes confirmed the 30th.
SURVEY_AFTER_ANSWERS = timedelta(days=11)
CONFIRMED_AFTER_ANSWERS = timedelta(days=15, hours=1)
MISSING_ANSWERS = 2

# Séance 2–6 details (séance 1 and 7 keep the launch and conclusion ensure_cycle gives them),
# chosen from the call's themes as a survey would have ordered them.
SEANCES = {
    1: {
        "lieu": "Base 11/19, Loos-en-Gohelle",
        "adresse": "Rue de Bourgogne, 62750 Loos-en-Gohelle",
    },
    2: {
        "lieu": "Maison régionale de l'environnement et des solidarités, Lille",
        "adresse": "23 rue Gosselet, 59000 Lille",
        "themes": dict(THEMES_APPEL)["enjeux"],
    },
    3: {"lieu": "Hôtel de ville d'Arras", "themes": dict(THEMES_APPEL)["postures"]},
    4: {"lieu": "Maison des associations, Amiens", "themes": dict(THEMES_APPEL)["outils"]},
    5: {"lieu": "Salle des fêtes, Grande-Synthe", "themes": dict(THEMES_APPEL)["diversite"]},
    6: {"themes": dict(THEMES_APPEL)["decision_evaluation"]},
}
PROGRAMMES = {
    2: (
        "Conférence-débat : pourquoi la crise démocratique et la crise climatique appellent "
        "la participation ; lecture partagée des journaux de bord.",
        "Atelier : la carte des enjeux de votre territoire, en binôme élu·e – technicien·ne.",
    ),
    3: (
        "Apport : élu·es, technicien·nes, citoyen·nes, qui fait quoi dans un processus "
        "participatif ? Témoignage d'une commune du cycle.",
        "Jeu de rôle : une réunion publique qui dérape, chacun·e à sa place.",
    ),
    4: (
        "Boîte à outils : boussole de la participation du Cerema, Carto Party du Cerdd, "
        "budgets participatifs, outils numériques.",
        "Mise en pratique : préparer une Carto Party sur son territoire.",
    ),
    5: (
        "Sortir du « Tous les mêmes » : qui ne vient jamais, et pourquoi ? Retours "
        "d'expériences d'aller-vers.",
        "Atelier : un plan de mobilisation des publics éloignés pour votre projet.",
    ),
}
NOTE_TEXT = (
    "Séance {numero} — {theme}\n\n"
    "Avant la séance, nous vous proposons de relire votre journal de bord et de noter une "
    "situation de votre territoire liée à ce thème : nous partirons de vos exemples.\n\n"
    "Ressources : la boussole de la participation (Cerema), le guide de la Carto Party (Cerdd)."
)
# Preferences of the demo answers: each participant starts at a different place of the list.
PREFERRED = ["outils", "diversite", "enjeux", "postures", "alliances", "elus_activateurs"]


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=PARIS)


def _publish(appel, staff_user) -> int:
    """Publish the call's staged decisions, sending no e-mail; returns how many.

    The letters' e-mails stay « à envoyer »: a newcomer who presses « Publier les décisions »
    in the admin sends them and reads them in /dev/outbox/.
    """
    unpublished = Decision.objects.filter(candidature__appel=appel, published_at__isnull=True)
    if not unpublished.exists():
        return 0
    count = unpublished.count()
    publication.publish_decisions(appel=appel, staff_user=staff_user, send=False)
    return count


def _plan_seances(cycle, *, held, confirmed) -> int:
    """Places, themes and programmes; séances ``held`` (numbers) become « tenue », the
    ``confirmed`` one « confirmée » (from « prévue » only)."""
    changed = 0
    for seance in cycle.seances.all():
        updates = {}
        details = SEANCES.get(seance.numero, {})
        if seance.lieu in ("", seance_services.A_DEFINIR) and details.get("lieu"):
            updates["lieu"] = details["lieu"]
        if not seance.adresse and details.get("adresse"):
            updates["adresse"] = details["adresse"]
        if not seance.themes and details.get("themes"):
            updates["themes"] = details["themes"]
        if (
            seance.numero in PROGRAMMES
            and seance.programme_matin == seance_services.PROGRAMME_MATIN
        ):
            updates["programme_matin"], updates["programme_apres_midi"] = PROGRAMMES[seance.numero]
        if seance.etat != Seance.Etat.TENUE and seance.numero in held:
            updates["etat"] = Seance.Etat.TENUE
        elif seance.etat == Seance.Etat.PREVUE and seance.numero == confirmed:
            updates["etat"] = Seance.Etat.CONFIRMEE
        updates = {key: value for key, value in updates.items() if getattr(seance, key) != value}
        if updates:
            Seance.objects.filter(pk=seance.pk).update(**updates)
            changed += 1
    return changed


def _confirm_participants(cycle) -> int:
    return cycle.participants.filter(statut=Participant.Statut.A_CONFIRMER).update(
        statut=Participant.Statut.CONFIRME,
        confirme_at=cycle.appel.announcement_at + CONFIRMED_AFTER_ANSWERS,
    )


def _add_substitutes(participants) -> int:
    """A suppléant·e for every other collectivité: an élu·e for the first, then alternately."""
    User = get_user_model()
    created = 0
    for index, participant in enumerate(participants):
        if index % 2:
            continue
        role = MembreBinome.Role.ELU if index % 4 == 0 else MembreBinome.Role.TECHNICIEN
        domain = f"{slugify(participant.candidature.collectivite.nom)}.exemple.test"
        email = f"suppleance.{role}@{domain}"
        nom = "Nadia Lefebvre" if role == MembreBinome.Role.ELU else "Thomas Carpentier"
        fonction = (
            "Conseillère municipale déléguée à la vie associative"
            if role == MembreBinome.Role.ELU
            else "Chargé de concertation"
        )
        _membre, new = MembreBinome.objects.get_or_create(
            participant=participant,
            role=role,
            titulaire=False,
            email=email,
            defaults={
                "nom": nom,
                "fonction": fonction,
                "user": User.objects.filter(email__iexact=email).first(),
            },
        )
        created += new
    return created


def _statuses(participant_index: int, numero: int, membres) -> dict:
    """Mostly present; a few incomplete binômes (a technicien·ne excusé·e or absent) and one
    élu·e replaced by their suppléant·e."""
    titulaires = {m.role: m for m in membres if m.titulaire}
    substitutes = {m.role: m for m in membres if not m.titulaire}
    statuses = {}
    for role, membre in titulaires.items():
        statut, remplacant = Presence.Statut.PRESENT, None
        if role == MembreBinome.Role.TECHNICIEN:
            if (participant_index, numero) == (1, 2):
                statut = Presence.Statut.EXCUSE
            elif (participant_index, numero) == (2, 3):
                statut = Presence.Statut.ABSENT
        elif (
            role == MembreBinome.Role.ELU
            and participant_index == 0
            and numero == 3
            and role in substitutes
        ):
            statut, remplacant = Presence.Statut.REMPLACE, substitutes[role].pk
        statuses[membre.pk] = (statut, remplacant)
    return statuses


def _record_attendance(cycle, participants, staff_user, *, now) -> int:
    written = 0
    for seance in cycle.seances.started(now):
        if Presence.objects.filter(seance=seance).exists():
            continue  # recorded already (by a previous run or by staff): left as is
        statuses = {}
        for index, participant in enumerate(participants):
            statuses.update(_statuses(index, seance.numero, list(participant.membres.all())))
        written += _write_attendance(seance, statuses, staff_user)
    return written


def _write_attendance(seance, statuses, staff_user) -> int:
    written = record_attendance(seance=seance, statuses=statuses, staff_user=staff_user)
    # Recorded the evening of the séance, as staff would have.
    Presence.objects.filter(seance=seance).update(recorded_at=_at(seance.date, 18))
    return written


def _context_notes(cycle, *, now) -> tuple[int, int]:
    """Notes written for the séances held and the next one; logged as sent (no e-mail)
    ``jours_avant_note`` days before each séance, when that day has come."""
    written = sent = 0
    upcoming = cycle.next_seance(now)
    for seance in cycle.seances.filter(numero__lte=upcoming.numero if upcoming else 99):
        if not seance.note_contexte:
            theme = seance.themes or "Lancement du cycle"
            seance.note_contexte = NOTE_TEXT.format(numero=seance.numero, theme=theme)
            seance.save(update_fields=["note_contexte"])
            written += 1
        moment = _at(seance.date - timedelta(days=cycle.jours_avant_note), 9)
        if moment > now or seance.note_envoyee_at is not None:
            continue
        EnvoiNoteContexte.objects.bulk_create(
            [
                EnvoiNoteContexte(
                    seance=seance,
                    destinataire=address,
                    statut=EnvoiNoteContexte.Statut.ENVOYE,
                    tentatives=1,
                    derniere_tentative_at=moment,
                    envoye_at=moment,
                )
                for address in context_note_recipients(seance)
            ],
            ignore_conflicts=True,
        )
        seance.note_envoyee_at = moment
        seance.save(update_fields=["note_envoyee_at"])
        sent += 1
    return written, sent


DOCUMENT_SEANCE = 2
DOCUMENT_TITRE = "Support de la conférence-débat"
DOCUMENT_HTML = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{titre}</title>'
    "<style>@page {{ size: A4; margin: 2cm }} body {{ font-family: 'DejaVu Sans' }}</style>"
    "</head><body><h1>{titre}</h1><p>Séance 2 du cycle de qualification : pourquoi la crise "
    "démocratique et la crise climatique appellent la participation citoyenne.</p></body></html>"
)


def _documents(cycle, staff_user, *, now) -> int:
    """One small PDF shared on séance 2 once held, added the day after it."""
    seance = cycle.seances.started(now).filter(numero=DOCUMENT_SEANCE).first()
    if seance is None:
        return 0
    if DocumentSeance.objects.filter(seance=seance, titre=DOCUMENT_TITRE).exists():
        return 0
    pdf = pdf_from_html(DOCUMENT_HTML.format(titre=DOCUMENT_TITRE))
    document = DocumentSeance(
        seance=seance,
        titre=DOCUMENT_TITRE,
        nom_original="support-conference-debat.pdf",
        type_mime="application/pdf",
        taille=len(pdf),
        added_at=min(_at(seance.date + timedelta(days=1), 10), now),
        added_by=staff_user,
    )
    document.fichier.save(document.nom_original, ContentFile(pdf), save=False)
    document.save()
    return 1


def _survey(participants, staff_user, *, since) -> int:
    created = 0
    answering = participants[: max(len(participants) - MISSING_ANSWERS, 0)]
    for index, participant in enumerate(answering):
        if ReponseSondage.objects.filter(participant=participant).exists():
            continue
        start = index % len(PREFERRED)
        ranked = PREFERRED[start:] + PREFERRED[:start]
        ranked = ranked[: 3 + index % 4]  # three to six themes ranked
        members = [m for m in participant.membres.all() if m.user_id and m.titulaire]
        sondage.submit_survey(
            participant=participant,
            user=members[0].user if members else staff_user,
            ranked_themes=ranked,
            suggestions=(
                "La place des jeunes dans nos instances participatives." if index % 2 == 0 else ""
            ),
            attentes=(
                "Des outils concrets à tester entre deux séances, et des échanges avec les "
                "autres collectivités du cycle."
            ),
            now=since + timedelta(days=index % 10, hours=index),
        )
        created += 1
    return created


def seed_cycle(appel, *, staff_user, now=None) -> dict:
    """The cycle of ``appel`` as it stands at ``now`` (default: now): the séances started by
    then are held; returns what was created or changed.

    Must be called outside a transaction: publishing the decisions commits step by step.
    """
    now = now or timezone.now()
    published = _publish(appel, staff_user)
    with transaction.atomic():
        cycle = seance_services.ensure_cycle(appel)
        held = set(cycle.seances.started(now).values_list("numero", flat=True))
        upcoming = cycle.next_seance(now)
        seances = _plan_seances(cycle, held=held, confirmed=upcoming.numero if upcoming else None)
        enrolled = participant_services.enrol_retained(cycle=cycle, staff_user=staff_user)
        confirmed = _confirm_participants(cycle)
        participants = list(
            Participant.objects.filter(cycle=cycle)
            .actifs()
            .select_related("candidature__collectivite")
            .order_by("candidature__collectivite__nom")
        )
        substitutes = _add_substitutes(participants)
        participants = list(
            Participant.objects.filter(pk__in=[p.pk for p in participants])
            .select_related("candidature__collectivite")
            .prefetch_related("membres")
            .order_by("candidature__collectivite__nom")
        )
        presences = _record_attendance(cycle, participants, staff_user, now=now)
        notes, notes_sent = _context_notes(cycle, now=now)
        documents = _documents(cycle, staff_user, now=now)
        answers = _survey(
            participants, staff_user, since=appel.announcement_at + SURVEY_AFTER_ANSWERS
        )
    return {
        "decisions_publiees": published,
        "seances_modifiees": seances,
        "participants_inscrits": enrolled,
        "participants_confirmes": confirmed,
        "suppleants": substitutes,
        "presences": presences,
        "notes_redigees": notes,
        "notes_envoyees": notes_sent,
        "documents": documents,
        "reponses_sondage": answers,
        "retenues": Decision.objects.filter(
            candidature__appel=appel, issue=Issue.RETENUE, published_at__isnull=False
        ).count(),
    }
