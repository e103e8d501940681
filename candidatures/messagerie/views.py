"""The applicant's side of the dossier's thread (the staff's is in ``admin.py``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from candidatures.dossiers.models import Candidature
from cerdd_ami.files import private_file_response
from cerdd_ami.notifications.services import mark_read

from . import services
from .forms import MessageForm
from .models import Message

FILE_AGAIN = " Le texte est conservé ; choisissez à nouveau le fichier."


def thread_messages(candidature):
    return candidature.messages.select_related("auteur", "piece", "demande").order_by(
        "created_at", "pk"
    )


def save_message(request, form, *, candidature) -> Message | None:
    """Hand a valid form to its service; on a refusal, the errors go on the form (the text the
    person typed stays in it) and None is returned."""
    data = form.cleaned_data
    try:
        if data.get("demande"):
            return services.answer_complement(
                demande=data["demande"],
                auteur=request.user,
                texte=data["texte"],
                fichier=data["fichier"],
            )
        return services.post_message(
            candidature=candidature,
            auteur=request.user,
            texte=data["texte"],
            fichier=data.get("fichier"),
        )
    except ValidationError as error:
        field = "fichier" if error.code not in {"text_empty", "text_too_long", "closed"} else None
        for text in error.messages:
            form.add_error(field, text + (FILE_AGAIN if field == "fichier" else ""))
        return None


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def thread(request, pk):
    candidature = get_object_or_404(
        Candidature.objects.visible_to(request.user).select_related("appel", "collectivite"),
        pk=pk,
    )
    demandes = list(Message.objects.filter(candidature=candidature).demandes_ouvertes())
    status = 200
    if request.method == "POST":
        form = MessageForm(
            request.POST, request.FILES, demandes=demandes or None, appel=candidature.appel
        )
        if form.is_valid():
            message = save_message(request, form, candidature=candidature)
            if message is not None:
                messages.success(
                    request,
                    "Votre complément est ajouté aux pièces du dossier et le Cerdd est prévenu."
                    if message.piece_id
                    else "Votre message est envoyé au Cerdd.",
                )
                return redirect(message.get_absolute_url())
        status = 400
    else:
        form = MessageForm(demandes=demandes or None, appel=candidature.appel)
    mark_read(user=request.user, url=request.path)
    return render(
        request,
        "candidatures/messagerie/thread.html",
        {
            "candidature": candidature,
            "fil": thread_messages(candidature),
            "form": form,
            "demandes": demandes,
        },
        status=status,
    )


@never_cache
@login_required
def fichier(request, pk, message_pk):
    message = get_object_or_404(
        Message.objects.readable_by(request.user).select_related("piece"),
        candidature_id=pk,
        pk=message_pk,
    )
    attachment = message.attachment
    if attachment is None:
        raise Http404
    return private_file_response(*attachment)
