"""The participant space: a retained collectivité's référent·es and binôme members.

Every participation is looked up through ``Participant.objects.of_user``: somebody else's is a
404, exactly like somebody else's dossier.
"""

import mimetypes
from pathlib import PurePosixPath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.cache import never_cache

from cerdd_ami.files import private_file_response
from cycle.participants import services
from cycle.participants.forms import BinomeForm, RetraitForm
from cycle.participants.models import Participant
from cycle.seances import ics
from cycle.seances.models import Seance


def participation_or_404(request, pk) -> Participant:
    """``request.user``'s participation ``pk``; anybody else's is a 404."""
    queryset = Participant.objects.of_user(request.user).select_related(
        "cycle__appel", "candidature__collectivite"
    )
    return get_object_or_404(queryset, pk=pk)


def seance_or_404(participant, numero) -> Seance:
    return get_object_or_404(
        Seance.objects.select_related("cycle", "collectivite_hote"),
        cycle_id=participant.cycle_id,
        numero=numero,
    )


PARTICIPATION_CONFIRMED = (
    "Merci : la participation de votre collectivité et votre binôme sont confirmés."
)
BINOME_SAVED = "Votre binôme est enregistré."


@login_required
def binome(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
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
    participant = participation_or_404(request, participant_pk)
    seance = seance_or_404(participant, numero)
    context = {"participant": participant, "seance": seance, "documents": seance.documents.all()}
    return render(request, "cycle/seance.html", context)


@never_cache
@login_required
def document_seance(request, participant_pk, numero, document_pk):
    participant = participation_or_404(request, participant_pk)
    seance = seance_or_404(participant, numero)
    document = get_object_or_404(seance.documents, pk=document_pk)
    return private_file_response(document.fichier, document.nom_original, document.type_mime)


@never_cache
@login_required
def note_contexte(request, participant_pk, numero):
    participant = participation_or_404(request, participant_pk)
    seance = seance_or_404(participant, numero)
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
    participant = participation_or_404(request, participant_pk)
    seance = seance_or_404(participant, numero)
    content = ics.calendar([(seance, _seance_url(request, participant, seance))])
    return _ics_response(content, f"seance-{seance.numero}.ics")


@login_required
def calendrier_ics(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    seances = Seance.objects.filter(cycle_id=participant.cycle_id).select_related("cycle")
    content = ics.calendar(
        [(s, _seance_url(request, participant, s)) for s in seances],
        name=participant.cycle.titre,
    )
    return _ics_response(content, f"{slugify(participant.cycle.titre)[:60] or 'cycle'}.ics")


@login_required
def retrait(request, participant_pk):
    """Withdraw from the cycle: a confirmation page with the reason, then the record of it."""
    participant = participation_or_404(request, participant_pk)
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
