import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from candidatures.appels.models import Appel
from candidatures.appels.views import search_results
from candidatures.connexion.signin import SignInThrottled
from candidatures.dossiers import hooks, services, submission
from cerdd_ami.auth import client_ip

from ..answers import files_text, review_of
from ..forms import CollectiviteChoiceForm, InvitationForm
from ..models import Candidature

# The 2021 form's columns, now answers to the call's questionnaire (exported as such).
LEGACY_FIELDS = {"motivations", "actions", "pistes", "besoins"}

MAIL_THROTTLED_MESSAGE = (
    "Trop d'e-mails ont été demandés pour cette adresse ou depuis votre connexion internet. "
    "Par sécurité, réessayez dans une heure."
)


def _dossier(request, pk):
    """The applicant's own dossier, with its call and collectivité; anybody else's is a 404."""
    candidature = Candidature.objects.visible_one(request.user, pk)
    if candidature is None:
        raise Http404
    return candidature


def _error_messages(error: ValidationError) -> list[str]:
    return list(error.messages)


@login_required
def mes_candidatures(request):
    """My dossiers, then every open call, the soonest to close first: « Candidater » to those
    I have no dossier for, « pour une autre collectivité » to the others. Two queries whatever
    their number."""
    dossiers = list(
        Candidature.objects.visible_to(request.user)
        .select_related("appel", "collectivite")
        .order_by("-appel__opens_at", "collectivite__nom")
    )
    mine = {dossier.appel_id for dossier in dossiers}
    appels_ouverts = list(Appel.objects.open_now())
    return render(
        request,
        "candidatures/mes_candidatures.html",
        {
            "dossiers": dossiers,
            "appels_a_candidater": [appel for appel in appels_ouverts if appel.pk not in mine],
            "appels_deja_candidat": [appel for appel in appels_ouverts if appel.pk in mine],
        },
    )


@login_required
def nouvelle(request, slug):
    appel = get_object_or_404(Appel.objects.published(), slug=slug)
    if not appel.is_open():
        messages.error(request, "Cet appel n'est pas ouvert aux candidatures.")
        return redirect(appel)
    if request.method in ("GET", "HEAD") and "autre" not in request.GET:
        # « Candidater » is also how a returning applicant comes back: to their dossier.
        mine = list(Candidature.objects.visible_to(request.user).filter(appel=appel)[:2])
        if len(mine) == 1:
            messages.info(
                request,
                "Vous avez déjà un dossier pour cet appel : le voici. Pour une autre "
                "collectivité, passez par « Mes candidatures ».",
            )
            return redirect(mine[0])
        if mine:
            return redirect("candidatures:mes_candidatures")
    query = request.GET.get("q", "").strip()
    context = {"appel": appel, "query": query, "resultats": search_results(query, appel)}
    if request.method == "POST":
        form = CollectiviteChoiceForm(request.POST)
        if form.is_valid():
            collectivite = form.cleaned_data["collectivite"]
            try:
                if request.POST.get("action") == "demande_acces":
                    existing = Candidature.objects.get(appel=appel, collectivite=collectivite)
                    services.request_access(
                        candidature=existing,
                        requester_email=request.user.email,
                        ip=client_ip(request),
                    )
                    messages.success(
                        request,
                        "Votre demande a été transmise aux référent·es du dossier de "
                        f"{collectivite.nom}. Ils et elles pourront vous inviter.",
                    )
                    return redirect("candidatures:mes_candidatures")
                candidature = services.create_candidature(
                    appel=appel, collectivite=collectivite, user=request.user
                )
            except services.CandidatureExists as exists:
                if exists.candidature in Candidature.objects.visible_to(request.user):
                    return redirect(exists.candidature)
                context["existante"] = collectivite
            except Candidature.DoesNotExist:
                raise Http404 from None
            except SignInThrottled:
                messages.error(request, MAIL_THROTTLED_MESSAGE)
                context["existante"] = collectivite
            except ValidationError as error:
                form.add_error("collectivite", error)
            else:
                messages.success(request, f"Le dossier de {collectivite.nom} est créé.")
                return redirect("candidatures:etape", pk=candidature.pk, step=1)
        context["form"] = form
    return render(request, "candidatures/nouvelle.html", context)


@login_required
def detail(request, pk):
    candidature = _dossier(request, pk)
    questionnaire = candidature.read_questionnaire()
    return render(
        request,
        "candidatures/dossier.html",
        {
            "candidature": candidature,
            "depots": candidature.read_depots(),
            "evenements": candidature.read_evenements(),
            "acces": candidature.read_acces(),
            "questionnaire": review_of(candidature, questionnaire),
            "missing": (
                candidature.missing_items(questionnaire) if not candidature.est_deposee else []
            ),
            "invitation_form": InvitationForm(),
            "now": timezone.now(),
            "peut_rouvrir": candidature.est_deposee and candidature.accepts_changes(),
        },
    )


@login_required
@require_POST
def reopen(request, pk):
    candidature = _dossier(request, pk)
    try:
        submission.reopen_candidature(candidature=candidature, user=request.user)
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
    else:
        messages.success(
            request,
            "Le dossier est rouvert. Pensez à le déposer de nouveau avant la date limite.",
        )
    return redirect(candidature)


@login_required
@require_POST
def invite(request, pk):
    candidature = _dossier(request, pk)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            services.invite_coreferent(
                candidature=candidature,
                email=form.cleaned_data["email"],
                invited_by=request.user,
                ip=client_ip(request),
            )
        except ValidationError as error:
            for message in _error_messages(error):
                messages.error(request, message)
        except SignInThrottled:
            messages.error(request, MAIL_THROTTLED_MESSAGE)
        else:
            messages.success(request, f"Invitation envoyée à {form.cleaned_data['email']}.")
    else:
        for message in form.errors.get("email", []):
            messages.error(request, message)
    return redirect(reverse("candidatures:dossier", args=[pk]) + "#inviter")


@login_required
def my_data(request, pk):
    """Everything the dossier holds about its people, for the applicant's right of access."""
    candidature = _dossier(request, pk)
    export = {
        "appel": candidature.appel.titre,
        "collectivite": {
            "nom": candidature.collectivite.nom,
            "siren": candidature.collectivite.siren,
            "insee": candidature.collectivite.insee,
        },
        "numero": candidature.numero,
        "statut": candidature.get_statut_display(),
        "reponses": {
            field.name: getattr(candidature, field.name)
            for field in Candidature._meta.get_fields()
            if field.concrete
            and not field.is_relation
            and field.name not in {"id", "statut", "numero", *LEGACY_FIELDS}
        },
        "questionnaire": [
            {
                "etape": titre,
                "question": question.libelle,
                "reponse": text if not question.est_fichier else files_text(pieces),
            }
            for titre, answers in review_of(candidature)
            for question, text, pieces in answers
        ],
        "pieces": [
            {
                "question": piece.question.libelle if piece.question else "",
                "nom": piece.nom_original,
                "type": piece.type_mime,
                "taille": piece.taille,
                "sha256": piece.sha256,
                "deposee_le": piece.uploaded_at,
            }
            for piece in candidature.pieces.select_related("question")
        ],
        "acces": [access.user.email for access in candidature.acces.select_related("user")],
        "historique": [
            {"date": event.at, "evenement": event.get_nature_display(), "detail": event.detail}
            for event in candidature.evenements.all()
        ],
    }
    for section in hooks.data_sections:
        key, value = section(candidature)
        export[key] = value
    # What the apps built on the dossier hold about the same person (the cycle's network).
    for contribute in hooks.personal_data:
        export.update(contribute(candidature=candidature, user=request.user))
    response = HttpResponse(
        json.dumps(export, ensure_ascii=False, indent=2, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="mes-donnees-dossier-{pk}.json"'
    return response
