"""The needs survey, participant side: rank the call's themes without JavaScript.

Each theme gets a « rang » select (—, 1…8); the form turns the selects into an ordered list
for ``cycle.sondage.submit_survey``, refusing a rank given twice or a gap in the ranks so
that what people see is exactly what is saved.
"""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Fieldset, Layout, Submit
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from cycle.participants.models import Participant
from cycle.sondage import services
from cycle.sondage.models import THEMES_APPEL

RANK_CHOICES = [("", "—")] + [(str(rank), str(rank)) for rank in range(1, services.MAX_RANK + 1)]


def rank_field_name(theme: str) -> str:
    return f"rang_{theme}"


class SondageForm(forms.Form):
    suggestions = forms.CharField(
        label="Vos propres thèmes",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Des sujets qui manquent à la liste ? Notez-les ici, un par ligne.",
    )
    attentes = forms.CharField(
        label="Vos attentes",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Ce que votre binôme élu·e et technicien·ne attend du cycle.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        rank_fields = {}
        for theme, label in THEMES_APPEL:
            rank_fields[rank_field_name(theme)] = forms.ChoiceField(
                label=label, choices=RANK_CHOICES, required=False
            )
        # The ranks first, in the call's order, then the two free texts.
        self.fields = {**rank_fields, **self.fields}
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's <form> carries the token
        self.helper.layout = Layout(
            Fieldset(
                "Classez les thèmes qui vous intéressent",
                HTML(
                    '<p class="form-text" id="aide-rangs">Donnez le rang 1 au thème qui vous '
                    "intéresse le plus, puis 2, 3… Chaque rang ne sert qu'une fois ; laissez "
                    "« — » aux thèmes que vous ne retenez pas. Classez au moins un thème.</p>"
                ),
                *rank_fields,
            ),
            Fieldset("En vos propres mots", "suggestions", "attentes"),
            Submit("envoyer", "Envoyer mes réponses"),
        )

    @classmethod
    def initial_for(cls, reponse) -> dict:
        if reponse is None:
            return {}
        initial = {"suggestions": reponse.suggestions, "attentes": reponse.attentes}
        for choice in reponse.choix.all():
            initial[rank_field_name(choice.theme)] = str(choice.rang)
        return initial

    def clean(self):
        cleaned = super().clean()
        by_rank: dict[int, list[str]] = {}
        for theme, _label in THEMES_APPEL:
            value = cleaned.get(rank_field_name(theme))
            if value:
                by_rank.setdefault(int(value), []).append(theme)
        for rank, themes in by_rank.items():
            if len(themes) > 1:
                for theme in themes:
                    self.add_error(
                        rank_field_name(theme),
                        f"Le rang {rank} est donné à {len(themes)} thèmes : chaque rang ne "
                        "peut servir qu'une fois.",
                    )
        if not by_rank:
            raise ValidationError("Classez au moins un thème (rang 1).", code="empty")
        missing = [rank for rank in range(1, max(by_rank) + 1) if rank not in by_rank]
        if missing and not self.errors:
            raise ValidationError(
                "Les rangs se suivent à partir de 1 : il manque le rang %(rangs)s.",
                code="gap",
                params={"rangs": ", ".join(str(rank) for rank in missing)},
            )
        cleaned["ranked_themes"] = [by_rank[rank][0] for rank in sorted(by_rank)]
        return cleaned


@login_required
def sondage(request, participant_pk):
    participant = get_object_or_404(
        Participant.objects.of_user(request.user).select_related(
            "cycle__appel", "candidature__collectivite"
        ),
        pk=participant_pk,
    )
    reponse = getattr(participant, "sondage", None)
    context = {
        "participant": participant,
        "collectivite": participant.candidature.collectivite,
        "cycle": participant.cycle,
        "reponse": reponse,
    }
    if not services.survey_is_open(participant.cycle):
        # Once the first séance has started, the page shows the answer given, no form.
        closes_at = services.survey_closes_at(participant.cycle)
        return TemplateResponse(
            request,
            "cycle/sondage.html",
            {**context, "clos": services.closed_message(closes_at)},
            status=400 if request.method == "POST" else 200,
        )
    if request.method == "POST":
        form = SondageForm(request.POST)
        if form.is_valid():
            try:
                services.submit_survey(
                    participant=participant,
                    user=request.user,
                    ranked_themes=form.cleaned_data["ranked_themes"],
                    suggestions=form.cleaned_data["suggestions"],
                    attentes=form.cleaned_data["attentes"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    "Merci : vos réponses au sondage sont enregistrées. Vous pouvez les "
                    "modifier jusqu'à la première séance.",
                )
                return redirect(request.path)
    else:
        form = SondageForm(initial=SondageForm.initial_for(reponse))
    first = participant.cycle.seances.order_by("numero").first()
    return TemplateResponse(
        request,
        "cycle/sondage.html",
        {**context, "premiere_seance": first, "form": form},
        status=400 if request.method == "POST" else 200,
    )
