"""The applicant's side of a decision: its letter, once the decision is published."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from candidatures.decisions.letters import letter_filename
from cerdd_ami.files import private_file_response

from .models import Decision


@never_cache
@login_required
def courrier(request, pk):
    """The latest letter of the dossier's decision; 404 before publication and for anybody
    but the dossier's own people (staff download letters from the admin)."""
    decision = get_object_or_404(
        Decision.objects.visible_to_applicant(request.user).select_related("candidature"),
        candidature_id=pk,
    )
    letter = decision.courriers.order_by("-version").first()
    if letter is None:
        raise Http404
    return private_file_response(letter.pdf, letter_filename(decision), "application/pdf")
