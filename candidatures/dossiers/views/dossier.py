import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
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

from ..forms import (
    STEP_FORMS,
    STEP_TITLES,
    CollectiviteChoiceForm,
    InvitationForm,
    PieceForm,
)
from ..models import Candidature, PieceJointe

MAIL_THROTTLED_MESSAGE = (
    "Trop d'e-mails ont été demandés pour cette adresse ou depuis votre connexion internet. "
    "Par sécurité, réessayez dans une heure."
)


def _dossier(request, pk):
    """The applicant's own dossier; anybody else's is a 404."""
    queryset = Candidature.objects.visible_to(request.user).select_related(
        "appel", "collectivite", "collectivite__epci"
    )
    return get_object_or_404(queryset, pk=pk)


def _error_messages(error: ValidationError) -> list[str]:
    return list(error.messages)


@login_required
def mes_candidatures(request):
    dossiers = (
        Candidature.objects.visible_to(request.user)
        .select_related("appel", "collectivite")
        .order_by("-appel__opens_at", "collectivite__nom")
    )
    appel = Appel.objects.current()
    return render(
        request,
        "candidatures/mes_candidatures.html",
        {
            "dossiers": dossiers,
            "appel": appel,
            "appel_ouvert": appel and appel.is_open(),
            "deja_candidat": appel is not None and any(d.appel_id == appel.pk for d in dossiers),
        },
    )


@login_required
def nouvelle(request, slug):
    appel = get_object_or_404(Appel.objects.published(), slug=slug)
    if not appel.is_open():
        messages.error(request, "Cet appel n'est pas ouvert aux candidatures.")
        return redirect(appel)
    if request.method == "GET" and "autre" not in request.GET:
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
    return render(
        request,
        "candidatures/dossier.html",
        {
            "candidature": candidature,
            # Not the frozen copy (``contenu``): decoding its JSON cost more than the page.
            "depots": candidature.depots.defer("contenu").order_by("-version"),
            "evenements": candidature.evenements.select_related("actor"),
            "acces": candidature.acces.select_related("user"),
            "missing": candidature.missing_items() if not candidature.est_deposee else [],
            "invitation_form": InvitationForm(),
            "now": timezone.now(),
            "peut_rouvrir": candidature.est_deposee and candidature.accepts_changes(),
        },
    )


def _step_context(candidature, step, **extra):
    return {
        "candidature": candidature,
        "step": step,
        "steps": STEP_TITLES,
        "step_title": STEP_TITLES[step],
        "editable": candidature.is_editable(),
        "previous_step": step - 1 if step > 1 else None,
        "next_step": step + 1 if step < len(STEP_TITLES) else None,
        **extra,
    }


@login_required
def step(request, pk, step):
    if step not in STEP_TITLES:
        raise Http404
    candidature = _dossier(request, pk)
    if step == 4:
        return _pieces_step(request, candidature)
    form_class = STEP_FORMS[step]
    editable = candidature.is_editable()
    if request.method == "POST":
        if not editable and "deposer" in request.POST and candidature.est_deposee:
            # The second click of a double click: the first one deposited.
            messages.info(request, "Ce dossier est déjà déposé.")
            return redirect(candidature)
        if not editable:
            messages.error(request, _locked_message(candidature))
            return redirect("candidatures:etape", pk=pk, step=step)
        form = form_class(request.POST, instance=candidature)
        if form.is_valid():
            # Saved first, deposit or not: a box ticked before « Déposer » is never lost.
            form.save()
            if step == 5 and "deposer" in request.POST:
                return _deposit(request, candidature, form=form)
            messages.success(request, "Brouillon enregistré.")
            if "continuer" in request.POST and step < len(STEP_TITLES):
                return redirect("candidatures:etape", pk=pk, step=step + 1)
            return redirect("candidatures:etape", pk=pk, step=step)
        messages.error(
            request, "Certaines réponses sont à corriger : voir les messages sous les champs."
        )
    else:
        form = form_class(instance=candidature)
    return _render_step(request, candidature, step, form)


def _render_step(request, candidature, step, form):
    if not candidature.is_editable():
        for field in form.fields.values():
            field.disabled = True
    extra = {"form": form}
    if step == 5:
        # One read of the pieces for both the missing items and the review. The boxes of this
        # page speak for themselves (errors beside them): the box lists the other steps only.
        prefetch_related_objects([candidature], "pieces")
        extra["missing"] = [item for item in candidature.missing_items() if item[0] != 5]
        extra["pieces"] = candidature.pieces.all()
    return render(request, "candidatures/etape.html", _step_context(candidature, step, **extra))


def _locked_message(candidature):
    if candidature.est_deposee and candidature.accepts_changes():
        return "Ce dossier est déposé : rouvrez-le pour le modifier."
    return "La date limite est passée : ce dossier ne peut plus être modifié."


def _pieces_step(request, candidature):
    editable = candidature.is_editable()
    form = PieceForm(appel=candidature.appel)
    if request.method == "POST":
        if not editable:
            messages.error(request, _locked_message(candidature))
            return redirect("candidatures:etape", pk=candidature.pk, step=4)
        form = PieceForm(request.POST, request.FILES, appel=candidature.appel)
        if form.is_valid():
            try:
                piece = services.add_piece(
                    candidature=candidature,
                    user=request.user,
                    nature=form.cleaned_data["nature"],
                    uploaded_file=form.cleaned_data["fichier"],
                )
            except ValidationError as error:
                form.add_error("fichier", error)
            else:
                messages.success(request, f"« {piece.nom_original} » est joint au dossier.")
                return redirect("candidatures:etape", pk=candidature.pk, step=4)
    pieces = candidature.pieces.all()
    return render(
        request,
        "candidatures/etape.html",
        _step_context(
            candidature,
            4,
            piece_form=form,
            pieces=pieces,
            total_bytes=sum(piece.taille for piece in pieces),
            has_letter=any(p.nature == PieceJointe.Nature.LETTRE_MOTIVATION for p in pieces),
        ),
    )


@login_required
@require_POST
def delete_piece(request, pk, piece_pk):
    candidature = _dossier(request, pk)
    piece = get_object_or_404(candidature.pieces, pk=piece_pk)
    try:
        services.delete_piece(piece=piece, user=request.user)
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
    else:
        messages.success(request, f"« {piece.nom_original} » est retiré du dossier.")
    return redirect("candidatures:etape", pk=pk, step=4)


@login_required
@require_POST
def submit(request, pk):
    return _deposit(request, _dossier(request, pk))


def _deposit(request, candidature, *, form=None):
    """Submit through the service; with step 5's ``form`` (already saved), a refusal for
    unticked commitments comes back on that page, each message beside its box."""
    try:
        depot = submission.submit_candidature(candidature=candidature, user=request.user)
    except submission.AlreadySubmitted:
        messages.info(request, "Ce dossier est déjà déposé.")
        return redirect(candidature)
    except submission.IncompleteCandidature as incomplete:
        if form is None:
            for message in _error_messages(incomplete):
                messages.error(request, message)
            return redirect("candidatures:etape", pk=candidature.pk, step=5)
        fields = {message: field for field, message in Candidature.ENGAGEMENTS.items()}
        for step_number, message in incomplete.missing:
            if step_number == 5:
                form.add_error(fields[message], message)
        messages.error(request, "Le dossier n'est pas encore déposé : voir ci-dessous.")
        return _render_step(request, candidature, 5, form)
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
        return redirect("candidatures:etape", pk=candidature.pk, step=5)
    # Issued by a background task: with the immediate backend (tests, TASKS_BACKEND=immediate)
    # it already ran on commit; with the worker it is usually still to come.
    depot.refresh_from_db(fields=["recu_envoye_at"])
    if depot.recu_envoye_at:
        receipt_news = "Un accusé de réception a été envoyé aux référent·es."
    else:
        receipt_news = (
            "L'accusé de réception est en préparation : il sera envoyé aux référent·es par e-mail."
        )
    messages.success(
        request,
        f"Votre candidature est déposée sous le numéro {candidature.numero}. {receipt_news}",
    )
    return redirect(candidature)


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
            and field.name not in {"id", "statut", "numero"}
        },
        "pieces": [
            {
                "nom": piece.nom_original,
                "type": piece.type_mime,
                "taille": piece.taille,
                "sha256": piece.sha256,
                "deposee_le": piece.uploaded_at,
            }
            for piece in candidature.pieces.all()
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
