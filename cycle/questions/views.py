"""« Mes questions au Cerdd » and the cycle's FAQ, participant side (staff answer in the
admin, ``admin.py``). Every participation is looked up through ``participation_or_404``:
somebody else's, or another cycle's, is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from cerdd_ami.files import private_file_response
from cerdd_ami.notifications.services import mark_read
from cycle.participants.models import Participant
from cycle.participants.views import participation_or_404

from . import services
from .forms import QuestionForm
from .models import EntreeFAQ, QuestionCerdd

FILE_AGAIN = " Le texte est conservé ; choisissez à nouveau le fichier."
RETENTION_NOTE = (
    "Les questions, les réponses et leurs pièces jointes sont supprimées 12 mois après la "
    "dernière séance du cycle ; la FAQ du cycle, sans nom, reste."
)


def _questions(participant):
    return (
        QuestionCerdd.objects.of_participant(participant)
        .select_related("seance", "auteur", "entree_faq")
        .order_by("-created_at", "-pk")
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def mes_questions(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    retire = participant.statut == Participant.Statut.RETIRE
    status = 200
    form = QuestionForm(participant=participant)
    if request.method == "POST":
        if retire:
            # Reading stays; asking stops (ask_question refuses it too).
            messages.error(request, services.WITHDRAWN)
            return redirect("cycle:questions", participant.pk)
        form = QuestionForm(request.POST, request.FILES, participant=participant)
        if form.is_valid():
            try:
                question = services.ask_question(
                    participant=participant, auteur=request.user, **form.cleaned_data
                )
            except PermissionDenied:
                raise Http404 from None
            except ValidationError as error:
                field = "fichier" if error.code not in {"text_empty", "text_too_long"} else None
                if error.code == "seance":
                    field = "seance"
                for text in error.messages:
                    form.add_error(field, text + (FILE_AGAIN if field == "fichier" else ""))
            else:
                messages.success(request, "Votre question est envoyée à l'équipe du Cerdd.")
                return redirect(question.get_absolute_url())
        status = 400
    mark_read(user=request.user, url=request.path)
    return render(
        request,
        "cycle/questions/mes_questions.html",
        {
            "participant": participant,
            "questions": _questions(participant),
            "form": None if retire else form,
            "retire_message": services.WITHDRAWN if retire else "",
            "retention_note": RETENTION_NOTE,
        },
        status=status,
    )


@never_cache
@login_required
def fichier(request, participant_pk, question_pk):
    participant = participation_or_404(request, participant_pk)
    question = get_object_or_404(QuestionCerdd.objects.of_participant(participant), pk=question_pk)
    if not question.fichier:
        raise Http404
    return private_file_response(question.fichier, question.nom_original, question.type_mime)


@login_required
def faq(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    entrees = EntreeFAQ.objects.of_cycle(participant.cycle_id).order_by("-publiee_at", "-pk")
    return render(
        request, "cycle/questions/faq.html", {"participant": participant, "entrees": entrees}
    )
