"""The participant space: a retained collectivité's référent·es and binôme members.

Every participation is looked up through ``Participant.objects.of_user``: somebody else's is a
404, exactly like somebody else's dossier.
"""

import mimetypes
from collections import defaultdict
from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.cache import never_cache

from candidatures.models import AccesCandidature
from cerdd_ami.files import private_file_response
from cerdd_ami.pdf import pdf_response

from . import attendance, ics, services
from .models import MembreBinome, Participant, Presence, Seance
from .participant_forms import BinomeForm, RetraitForm


def _participation(request, pk) -> Participant:
    queryset = Participant.objects.of_user(request.user).select_related(
        "cycle__appel", "candidature__collectivite"
    )
    return get_object_or_404(queryset, pk=pk)


def _seance(participant, numero) -> Seance:
    return get_object_or_404(
        Seance.objects.select_related("cycle", "collectivite_hote"),
        cycle_id=participant.cycle_id,
        numero=numero,
    )


@login_required
def espace(request):
    """My participations, the calendar of each cycle, and who comes to the next séance."""
    participations = list(
        Participant.objects.of_user(request.user).select_related(
            "cycle__appel", "candidature__collectivite"
        )
    )
    cycle_ids = {p.cycle_id for p in participations}
    # One query for the séances and one for the people of every cycle, however many there are.
    now = timezone.now()
    seances = defaultdict(list)
    for seance in Seance.objects.filter(cycle_id__in=cycle_ids).select_related("collectivite_hote"):
        seance.a_eu_lieu = seance.has_started(now)
        seances[seance.cycle_id].append(seance)
    prochaines = {
        cycle_id: Seance.next_after(cycle_seances, now)
        for cycle_id, cycle_seances in seances.items()
    }
    # Who comes next time: the titulaires of the confirmed binômes, except those recorded as
    # excusé·e for that séance; a titulaire recorded as replaced gives way to their suppléant·e.
    excuses, remplacants = set(), {}
    for seance_id, membre_id, statut, remplacant_id in Presence.objects.filter(
        seance__in=[s for s in prochaines.values() if s is not None],
        statut__in=[Presence.Statut.EXCUSE, Presence.Statut.REMPLACE],
    ).values_list("seance_id", "membre_id", "statut", "remplacant_id"):
        excuses.add((seance_id, membre_id))
        if statut == Presence.Statut.REMPLACE:
            remplacants[(seance_id, remplacant_id)] = True
    venants = defaultdict(dict)
    membres = (
        MembreBinome.objects.filter(
            participant__cycle_id__in=cycle_ids,
            participant__statut=Participant.Statut.CONFIRME,
        )
        .select_related("participant__candidature__collectivite")
        .order_by("participant__candidature__collectivite__nom", "-titulaire", "role", "nom")
    )
    for membre in membres:
        prochaine = prochaines.get(membre.participant.cycle_id)
        seance_id = prochaine.pk if prochaine else None
        if membre.titulaire:
            if (seance_id, membre.pk) in excuses:
                continue
        elif (seance_id, membre.pk) not in remplacants:
            continue
        collectivite = membre.participant.candidature.collectivite
        venants[membre.participant.cycle_id].setdefault(collectivite, []).append(membre)

    cycles = []
    for participant in participations:
        if any(block["cycle"].pk == participant.cycle_id for block in cycles):
            next(b for b in cycles if b["cycle"].pk == participant.cycle_id)[
                "participations"
            ].append(participant)
            continue
        cycle_seances = seances[participant.cycle_id]
        cycles.append(
            {
                "cycle": participant.cycle,
                "participations": [participant],
                "seances": cycle_seances,
                "prochaine": prochaines.get(participant.cycle_id),
                "venants": list(venants[participant.cycle_id].items()),
            }
        )
    return render(request, "cycle/espace.html", {"cycles": cycles})


PARTICIPATION_CONFIRMED = (
    "Merci : la participation de votre collectivité et votre binôme sont confirmés."
)
BINOME_SAVED = "Votre binôme est enregistré."


@login_required
def binome(request, participant_pk):
    participant = _participation(request, participant_pk)
    if participant.statut == Participant.Statut.RETIRE:
        messages.error(
            request, "Votre collectivité s'est retirée du cycle : le binôme ne peut plus changer."
        )
        return redirect("cycle:espace")
    membres = list(participant.membres.all())
    confirme = participant.statut == Participant.Statut.CONFIRME
    form = BinomeForm(request.POST or None, membres=membres, confirme=confirme)
    if request.method == "POST" and form.is_valid():
        try:
            services.confirm_participation(
                participant=participant, user=request.user, binome=form.binome()
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, BINOME_SAVED if confirme else PARTICIPATION_CONFIRMED)
            return redirect("cycle:espace")
    return render(request, "cycle/binome.html", {"participant": participant, "form": form})


@login_required
def seance(request, participant_pk, numero):
    participant = _participation(request, participant_pk)
    seance = _seance(participant, numero)
    context = {"participant": participant, "seance": seance, "documents": seance.documents.all()}
    return render(request, "cycle/seance.html", context)


@never_cache
@login_required
def document_seance(request, participant_pk, numero, document_pk):
    participant = _participation(request, participant_pk)
    seance = _seance(participant, numero)
    document = get_object_or_404(seance.documents, pk=document_pk)
    return private_file_response(document.fichier, document.nom_original, document.type_mime)


@never_cache
@login_required
def note_contexte(request, participant_pk, numero):
    participant = _participation(request, participant_pk)
    seance = _seance(participant, numero)
    # Not before it is sent: staff may still be preparing it.
    if not seance.note_contexte_fichier or seance.note_envoyee_at is None:
        raise Http404
    try:
        handle = seance.note_contexte_fichier.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    filename = PurePosixPath(seance.note_contexte_fichier.name).name
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _ics_response(content: str, filename: str) -> HttpResponse:
    response = HttpResponse(content.encode(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _seance_url(request, participant, seance) -> str:
    return request.build_absolute_uri(reverse("cycle:seance", args=[participant.pk, seance.numero]))


@login_required
def seance_ics(request, participant_pk, numero):
    participant = _participation(request, participant_pk)
    seance = _seance(participant, numero)
    content = ics.calendar([(seance, _seance_url(request, participant, seance))])
    return _ics_response(content, f"seance-{seance.numero}.ics")


@login_required
def calendrier_ics(request, participant_pk):
    participant = _participation(request, participant_pk)
    seances = Seance.objects.filter(cycle_id=participant.cycle_id).select_related("cycle")
    content = ics.calendar(
        [(s, _seance_url(request, participant, s)) for s in seances],
        name=participant.cycle.titre,
    )
    return _ics_response(content, f"{slugify(participant.cycle.titre)[:60] or 'cycle'}.ics")


@login_required
def retrait(request, participant_pk):
    """Withdraw from the cycle: a confirmation page with the reason, then the record of it."""
    participant = _participation(request, participant_pk)
    form = RetraitForm(request.POST or None)
    editable = participant.statut != Participant.Statut.RETIRE
    if editable and request.method == "POST" and form.is_valid():
        try:
            services.withdraw_participant(
                participant=participant,
                user=request.user,
                reason=form.cleaned_data["motif"],
            )
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Le retrait de votre collectivité est enregistré.")
            return redirect("cycle:retrait", participant.pk)
    return render(request, "cycle/retrait.html", {"participant": participant, "form": form})


# ---------------------------------------------------------------------------------------------
# Attestations de participation


def _attestation_membres(request, participant) -> list[MembreBinome]:
    """Whose attestation ``request.user`` may read: every member of the binôme for a
    référent·e of the dossier, their own for a member."""
    membres = list(participant.membres.all())
    user = request.user
    if AccesCandidature.objects.filter(candidature=participant.candidature, user=user).exists():
        return membres
    email = (user.email or "").lower()
    return [m for m in membres if m.user_id == user.pk or (email and m.email.lower() == email)]


@never_cache
@login_required
def attestations(request, participant_pk):
    """The attestations one may download, or why not yet."""
    participant = _participation(request, participant_pk)
    cycle = participant.cycle
    lines = []
    for membre in _attestation_membres(request, participant):
        attended = len(attendance.attended_seances(membre))
        blocker = attendance.attestation_blocker(membre, cycle, attended=attended)
        if blocker == attendance.CYCLE_NOT_OVER:
            raison = "L'attestation sera disponible à la fin du cycle."
        elif blocker == attendance.NOT_ENOUGH:
            raison = (
                f"{attendance.seances_suivies(attended).capitalize()}, il en faut au moins "
                f"{cycle.seances_min_attestation}."
            )
        else:
            raison = ""
        lines.append({"membre": membre, "attended": attended, "raison": raison})
    context = {"participant": participant, "cycle": cycle, "lines": lines}
    return render(request, "cycle/attestations.html", context)


@never_cache
@login_required
def attestation_pdf(request, participant_pk, membre_pk):
    participant = _participation(request, participant_pk)
    membre = next(
        (m for m in _attestation_membres(request, participant) if m.pk == membre_pk), None
    )
    if membre is None or attendance.attestation_blocker(membre, participant.cycle) is not None:
        raise Http404
    pdf = attendance.render_attestation_pdf(membre, participant.cycle)
    return pdf_response(pdf, f"attestation-{slugify(membre.nom) or membre.pk}.pdf")
