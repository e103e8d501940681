"""The journal de bord, participant side: my journal, the shared journal, the tour de table.

Every participation is looked up through ``Participant.objects.of_user`` and every entry through
``EntreeJournal.objects.readable_by``: somebody else's private entry is a 404, never a 403, so
that its existence is not revealed.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from cerdd_ami.pdf import pdf_response
from cycle.journal import capitalisation
from cycle.journal import services as journal
from cycle.journal.forms import QUI_LIT, AvancementForm, EngagementForm, EntreeJournalForm
from cycle.journal.models import Engagement, EntreeJournal
from cycle.participants.models import Participant
from cycle.participants.views import participation_or_404
from cycle.seances.models import Seance


def _shared_participation(request, pk) -> Participant:
    """For the shared journal: its participants, and the Cerdd's facilitators, who project
    the tour de table (``readable_by`` still gives staff the shared entries only)."""
    if request.user.is_staff and request.user.has_perm("cycle.view_entreejournal"):
        queryset = Participant.objects.select_related("cycle", "candidature__collectivite")
        return get_object_or_404(queryset, pk=pk)
    return participation_or_404(request, pk)


def _entries(request, participant):
    return journal.with_versions(
        EntreeJournal.objects.readable_by(request.user)
        .filter(participant=participant)
        .select_related("auteur", "seance")
        .prefetch_related("reponses")
    ).order_by("-created_at", "-pk")


def _own_entry(request, participant, entree_pk) -> EntreeJournal:
    entree = get_object_or_404(_entries(request, participant), pk=entree_pk)
    if entree.auteur_id != request.user.pk:
        # Readable (binôme or shared) but not theirs: nothing to edit here.
        raise Http404
    return entree


@login_required
def journal_list(request, participant_pk):
    """My entries and those my binôme shares with me, with the form to write a new one."""
    participant = participation_or_404(request, participant_pk)
    retire = participant.statut == Participant.Statut.RETIRE
    form = EntreeJournalForm(request.POST or None, participant=participant)
    if request.method == "POST" and retire:
        # Reading stays; writing stops (write_entry refuses it too).
        messages.error(request, journal.WITHDRAWN)
        return redirect("cycle:journal", participant.pk)
    if request.method == "POST" and form.is_valid():
        try:
            journal.write_entry(participant=participant, auteur=request.user, **form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Votre entrée est enregistrée dans le journal de bord.")
            return redirect("cycle:journal", participant.pk)
    return render(
        request,
        "cycle/journal/list.html",
        {
            "participant": participant,
            "entries": list(_entries(request, participant)),
            "form": None if retire else form,
            "retire": retire,
            "retire_message": journal.WITHDRAWN,
            "qui_lit": QUI_LIT,
        },
    )


@login_required
def journal_edit(request, participant_pk, entree_pk):
    participant = participation_or_404(request, participant_pk)
    entree = _own_entry(request, participant, entree_pk)
    initial = {name: getattr(entree, name) for name in journal.EDITABLE_FIELDS}
    form = EntreeJournalForm(
        request.POST or None,
        participant=participant,
        initial=initial,
        entree=entree,
        submit_label="Enregistrer les modifications",
    )
    if request.method == "POST" and form.is_valid():
        try:
            journal.update_entry(entree=entree, auteur=request.user, **form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Votre entrée est modifiée.")
            return redirect("cycle:journal", participant.pk)
    return render(
        request,
        "cycle/journal/edit.html",
        {"participant": participant, "entree": entree, "form": form},
    )


@require_POST
@login_required
def journal_delete(request, participant_pk, entree_pk):
    participant = participation_or_404(request, participant_pk)
    entree = _own_entry(request, participant, entree_pk)
    try:
        journal.delete_entry(entree=entree, auteur=request.user)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, "Votre entrée est supprimée.")
    return redirect("cycle:journal", participant.pk)


def _shared_blocks(request, participant):
    seances = list(
        Seance.objects.filter(cycle_id=participant.cycle_id).select_related("collectivite_hote")
    )
    entries = (
        EntreeJournal.objects.readable_by(request.user)
        .partagees()
        .filter(participant__cycle_id=participant.cycle_id)
        .select_related("participant__candidature__collectivite", "auteur", "seance")
        .prefetch_related("reponses")
        .order_by("created_at", "pk")
    )
    return seances, journal.shared_by_seance(entries, seances)


@login_required
def journal_partage(request, participant_pk):
    """The cycle's shared entries, per séance, grouped by collectivité, with the replies."""
    participant = _shared_participation(request, participant_pk)
    _seances, blocks = _shared_blocks(request, participant)
    # Facilitators answer from the admin (the same permissions as its « Répondre » page).
    staff_reply = request.user.is_staff and request.user.has_perms(
        ("cycle.view_entreejournal", "cycle.add_reponsefacilitateur")
    )
    return render(
        request,
        "cycle/journal/partage.html",
        {"participant": participant, "blocks": blocks, "staff_reply": staff_reply},
    )


@login_required
def tour_de_table(request, participant_pk, seance_numero):
    """Projector mode: one collectivité's shared entries at a time, ``?i=N`` (0-based)."""
    participant = _shared_participation(request, participant_pk)
    seances, blocks = _shared_blocks(request, participant)
    seance = next((s for s in seances if s.numero == seance_numero), None)
    if seance is None:
        raise Http404
    groups = next((b["collectivites"] for b in blocks if b["seance"] == seance), [])
    try:
        index = int(request.GET.get("i", 0))
    except ValueError:
        index = 0
    index = min(max(index, 0), max(len(groups) - 1, 0))
    current = groups[index] if groups else None
    return render(
        request,
        "cycle/journal/tour_de_table.html",
        {
            "participant": participant,
            "seance": seance,
            "collectivite": current[0] if current else None,
            "entries": current[1] if current else [],
            "index": index,
            "position": index + 1,
            "total": len(groups),
            "previous": index - 1 if index > 0 else None,
            "next": index + 1 if index + 1 < len(groups) else None,
        },
    )


# ---------------------------------------------------------------------------------------------
# Commitments to experiment, and the journal de bord as PDF. The cycle's commitments are readable
# by every participant of that cycle; progress is added only to one's own collectivité's
# commitments (``capitalisation.record_progress`` checks it again).


def _apply_errors(form, error: ValidationError):
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


@login_required
def engagements(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    own = capitalisation.engagements_of(Engagement.objects.filter(participant=participant))
    form = EngagementForm()
    avancement_form, avancement_for = None, None
    if request.method == "POST":
        if request.POST.get("action") == "avancement":
            avancement_form = AvancementForm(request.POST)
            if avancement_form.is_valid():
                # Only this collectivité's commitments: another one's is a 404.
                engagement = get_object_or_404(
                    Engagement,
                    pk=avancement_form.cleaned_data["engagement"],
                    participant=participant,
                )
                avancement_for = engagement.pk
                try:
                    capitalisation.record_progress(
                        engagement=engagement,
                        user=request.user,
                        statut=avancement_form.cleaned_data["statut"],
                        texte=avancement_form.cleaned_data["texte"],
                        date=avancement_form.cleaned_data["date"],
                    )
                except ValidationError as error:
                    _apply_errors(avancement_form, error)
                else:
                    messages.success(request, "L'avancement est enregistré.")
                    return redirect(request.path)
        else:
            form = EngagementForm(request.POST)
            if form.is_valid():
                try:
                    capitalisation.declare_engagement(
                        participant=participant,
                        user=request.user,
                        nature=form.cleaned_data["nature"],
                        description=form.cleaned_data["description"],
                    )
                except ValidationError as error:
                    _apply_errors(form, error)
                else:
                    messages.success(request, "Votre engagement est enregistré.")
                    return redirect(request.path)
    return TemplateResponse(
        request,
        "cycle/engagements/liste.html",
        {
            "participant": participant,
            "collectivite": participant.candidature.collectivite,
            "cycle": participant.cycle,
            "engagements": own,
            "form": form,
            "avancement_form": avancement_form,
            "avancement_for": avancement_for,
            "statuts": Engagement.Statut.choices,
            "today": timezone.localdate(),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
def engagements_cycle(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    queryset = capitalisation.engagements_of(
        Engagement.objects.filter(participant__cycle=participant.cycle).exclude(
            participant__statut=Participant.Statut.RETIRE
        )
    )
    return TemplateResponse(
        request,
        "cycle/engagements/cycle.html",
        {
            "participant": participant,
            "collectivite": participant.candidature.collectivite,
            "cycle": participant.cycle,
            "engagements": queryset,
        },
    )


@login_required
def journal_pdf(request, participant_pk):
    participant = participation_or_404(request, participant_pk)
    pdf = capitalisation.render_journal_pdf(participant, request.user)
    filename = f"journal-de-bord-{slugify(str(participant))[:40]}.pdf"
    return pdf_response(pdf, filename, inline=True)
