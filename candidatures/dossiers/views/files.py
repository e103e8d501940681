from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from cerdd_ami.files import private_file_response

from ..models import Candidature


def _readable_dossier(request, pk):
    return get_object_or_404(Candidature.objects.readable_by(request.user), pk=pk)


@never_cache
def piece(request, pk, piece_pk):
    candidature = _readable_dossier(request, pk)
    attachment = get_object_or_404(candidature.pieces, pk=piece_pk)
    return private_file_response(attachment.fichier, attachment.nom_original, attachment.type_mime)


@never_cache
def recu(request, pk, version):
    candidature = _readable_dossier(request, pk)
    depot = get_object_or_404(candidature.depots, version=version)
    if not depot.recu:
        # Recorded, but its receipt is still being issued (submission.issue_receipt_task).
        raise Http404
    filename = f"accuse-reception-{candidature.numero}-v{depot.version}.pdf"
    return private_file_response(depot.recu, filename, "application/pdf")
