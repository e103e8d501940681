"""Attestations de participation in the participant space."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.cache import never_cache

from candidatures.models import AccesCandidature
from cerdd_ami.pdf import pdf_response
from cycle.participants.models import MembreBinome
from cycle.participants.views import participation_or_404
from cycle.presences import attendance

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
    participant = participation_or_404(request, participant_pk)
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
    participant = participation_or_404(request, participant_pk)
    membre = next(
        (m for m in _attestation_membres(request, participant) if m.pk == membre_pk), None
    )
    if membre is None or attendance.attestation_blocker(membre, participant.cycle) is not None:
        raise Http404
    pdf = attendance.render_attestation_pdf(membre, participant.cycle)
    return pdf_response(pdf, f"attestation-{slugify(membre.nom) or membre.pk}.pdf")
