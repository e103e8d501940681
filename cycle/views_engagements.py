"""Participant side of the commitments to experiment, and the journal de bord as PDF.

Every participation is looked up through ``Participant.objects.of_user``: somebody else's is a
404. The cycle's commitments are readable by every participant of that cycle; progress is
added only to one's own collectivité's commitments (``capitalisation.record_progress`` checks
it again).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import slugify

from cerdd_ami.pdf import pdf_response

from . import capitalisation
from .models import Engagement, Participant


class EngagementForm(forms.Form):
    nature = forms.ChoiceField(label="Nature", choices=Engagement.Nature.choices)
    description = forms.CharField(
        label="Ce que vous allez expérimenter",
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AvancementForm(forms.Form):
    engagement = forms.IntegerField(widget=forms.HiddenInput)
    statut = forms.ChoiceField(label="État", choices=Engagement.Statut.choices)
    date = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    texte = forms.CharField(
        label="Où en êtes-vous ?", max_length=3000, widget=forms.Textarea(attrs={"rows": 2})
    )


def _participation(request, pk) -> Participant:
    return get_object_or_404(
        Participant.objects.of_user(request.user).select_related(
            "cycle__appel", "candidature__collectivite"
        ),
        pk=pk,
    )


def _apply_errors(form, error: ValidationError):
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


@login_required
def engagements(request, participant_pk):
    participant = _participation(request, participant_pk)
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
    participant = _participation(request, participant_pk)
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
    participant = _participation(request, participant_pk)
    pdf = capitalisation.render_journal_pdf(participant, request.user)
    filename = f"journal-de-bord-{slugify(str(participant))[:40]}.pdf"
    return pdf_response(pdf, filename, inline=True)
