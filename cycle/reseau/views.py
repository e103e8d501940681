"""Le réseau des participant·es, participant side: the cycle's directory, its discussions.

Every participation is looked up through ``Participant.objects.of_user`` and every discussion
within that participation's cycle: a collectivité not retained, or of another cycle, gets a 404.
A withdrawn participation reads everything and writes nothing (the services refuse it too).
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from cerdd_ami.files import private_file_response
from cerdd_ami.notifications.services import mark_read
from cycle.participants.models import MembreBinome, Participant
from cycle.participants.views import participation_or_404
from cycle.reseau import services
from cycle.reseau.forms import DiscussionForm, MessageForm
from cycle.reseau.models import Abonnement, ConsentementAnnuaire, Discussion, MessageReseau
from cycle.reseau.personal_data import network_data

RETENTION_NOTE = (
    "Les messages et leurs pièces jointes sont supprimés 12 mois après la dernière séance du "
    "cycle ; les accords pour l'annuaire aussi."
)


def _withdrawn(participant) -> bool:
    return participant.statut == Participant.Statut.RETIRE


# ---------------------------------------------------------------------------------------------
# The directory


@never_cache
@login_required
def annuaire(request, participant_pk):
    """The collectivités of the cycle and their binômes; e-mail and phone only for the people
    who agreed, each for themselves."""
    participant = participation_or_404(request, participant_pk)
    shared = ConsentementAnnuaire.objects.actifs().filter(membre=OuterRef("pk"))
    collectivites = (
        Participant.objects.actifs()
        .filter(cycle_id=participant.cycle_id)
        .select_related("candidature__collectivite__epci")
        .prefetch_related(
            Prefetch(
                "membres",
                queryset=MembreBinome.objects.annotate(partage=Exists(shared)).order_by(
                    "-titulaire", "role", "nom"
                ),
            )
        )
        .order_by("candidature__collectivite__nom", "pk")
    )
    mine = list(services.own_members(participant, request.user).annotate(partage=Exists(shared)))
    return render(
        request,
        "cycle/reseau/annuaire.html",
        {
            "participant": participant,
            "collectivites": collectivites,
            "mine": mine,
            "partage": any(m.partage for m in mine),
            "retire": _withdrawn(participant),
            "retire_message": services.WITHDRAWN,
            "retention_note": RETENTION_NOTE,
        },
    )


@require_POST
@login_required
def annuaire_accord(request, participant_pk):
    """Give (« accepter ») or withdraw (« retirer ») one's own consent to the directory."""
    participant = participation_or_404(request, participant_pk)
    try:
        if request.POST.get("action") == "accepter":
            services.opt_in(participant=participant, user=request.user)
            messages.success(
                request,
                "Votre adresse e-mail et votre téléphone sont visibles des participant·es du "
                "cycle. Vous pouvez retirer votre accord à tout moment.",
            )
        else:
            services.revoke_opt_in(participant=participant, user=request.user)
            messages.success(
                request, "Votre adresse e-mail et votre téléphone ne sont plus dans l'annuaire."
            )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("cycle:annuaire", participant.pk)


# ---------------------------------------------------------------------------------------------
# Discussions


def _discussion_or_404(participant, pk) -> Discussion:
    return get_object_or_404(
        Discussion.objects.of_cycle(participant.cycle_id).select_related(
            "seance", "participant__candidature__collectivite"
        ),
        pk=pk,
    )


@login_required
def discussions(request, participant_pk):
    """The cycle's discussions, most recent activity first, and the form to open one."""
    participant = participation_or_404(request, participant_pk)
    retire = _withdrawn(participant)
    appel = participant.cycle.appel
    form = DiscussionForm(
        request.POST or None,
        request.FILES or None,
        cycle_id=participant.cycle_id,
        max_file_bytes=appel.max_file_bytes,
    )
    if request.method == "POST":
        if retire:
            messages.error(request, services.WITHDRAWN)
            return redirect("cycle:discussions", participant.pk)
        if form.is_valid():
            try:
                discussion = services.start_discussion(
                    participant=participant,
                    auteur=request.user,
                    titre=form.cleaned_data["titre"],
                    texte=form.cleaned_data["texte"],
                    theme=form.cleaned_data["theme"],
                    seance=form.cleaned_data["seance"],
                    uploaded_file=form.cleaned_data["fichier"],
                )
            except PermissionDenied:
                raise Http404 from None
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, "Votre discussion est ouverte.")
                return redirect("cycle:discussion", participant.pk, discussion.pk)
    threads = (
        Discussion.objects.of_cycle(participant.cycle_id)
        .select_related("seance", "participant__candidature__collectivite")
        .annotate(
            nombre_messages=Count("messages"),
            derniere_activite=Max("messages__created_at"),
            suivie=Exists(Abonnement.objects.filter(discussion=OuterRef("pk"), user=request.user)),
        )
        .order_by("-derniere_activite", "-pk")
    )
    return render(
        request,
        "cycle/reseau/discussions.html",
        {
            "participant": participant,
            "discussions": threads,
            "form": None if retire else form,
            "retire": retire,
            "retire_message": services.WITHDRAWN,
            "retention_note": RETENTION_NOTE,
        },
    )


@login_required
def discussion(request, participant_pk, discussion_pk):
    """One discussion, its messages (hidden ones as « message masqué par l'équipe ») and the
    reply form."""
    participant = participation_or_404(request, participant_pk)
    thread = _discussion_or_404(participant, discussion_pk)
    retire = _withdrawn(participant)
    form = MessageForm(
        request.POST or None,
        request.FILES or None,
        max_file_bytes=participant.cycle.appel.max_file_bytes,
    )
    if request.method == "POST":
        if retire:
            messages.error(request, services.WITHDRAWN)
            return redirect("cycle:discussion", participant.pk, thread.pk)
        if form.is_valid():
            try:
                message = services.post_message(
                    discussion=thread,
                    participant=participant,
                    auteur=request.user,
                    texte=form.cleaned_data["texte"],
                    uploaded_file=form.cleaned_data["fichier"],
                )
            except PermissionDenied:
                raise Http404 from None
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, "Votre réponse est publiée.")
                return redirect(f"{request.path}#message-{message.pk}")
    posts = thread.messages.select_related("participant__candidature__collectivite").order_by(
        "created_at", "pk"
    )
    mark_read(user=request.user, url=request.path)
    return render(
        request,
        "cycle/reseau/discussion.html",
        {
            "participant": participant,
            "discussion": thread,
            "posts": posts,
            "suivie": Abonnement.objects.filter(discussion=thread, user=request.user).exists(),
            "form": None if retire else form,
            "retire": retire,
            "retire_message": services.WITHDRAWN,
        },
    )


@require_POST
@login_required
def discussion_suivre(request, participant_pk, discussion_pk):
    participant = participation_or_404(request, participant_pk)
    thread = _discussion_or_404(participant, discussion_pk)
    follow = request.POST.get("action") == "suivre"
    try:
        services.set_following(
            discussion=thread, participant=participant, user=request.user, follow=follow
        )
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(
            request,
            "Vous suivez cette discussion : vous serez prévenu·e de chaque nouveau message, "
            "comme vous l'avez choisi dans « Mes notifications »."
            if follow
            else "Vous ne suivez plus cette discussion.",
        )
    return redirect("cycle:discussion", participant.pk, thread.pk)


@never_cache
@login_required
def message_fichier(request, participant_pk, discussion_pk, message_pk):
    participant = participation_or_404(request, participant_pk)
    thread = _discussion_or_404(participant, discussion_pk)
    message = get_object_or_404(
        MessageReseau.objects.filter(discussion=thread, masque_at__isnull=True).exclude(fichier=""),
        pk=message_pk,
    )
    return private_file_response(message.fichier, message.nom_original, message.type_mime)


@never_cache
@login_required
def mes_donnees(request, participant_pk):
    """My data in the network (consents, follows, my messages), as JSON."""
    participant = participation_or_404(request, participant_pk)
    export = {
        "cycle": participant.cycle.titre,
        "collectivite": participant.candidature.collectivite.nom,
        **network_data(participant=participant, user=request.user),
    }
    response = HttpResponse(
        json.dumps(export, ensure_ascii=False, indent=2, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="mes-donnees-reseau-{participant.pk}.json"'
    )
    return response
