"""Forms of the juror's admin pages: the évaluation of one dossier, and recusal."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from .models import Recommandation

NOTE_PREFIX = "note_"
COMMENT_PREFIX = "commentaire_"


class EvaluationForm(forms.Form):
    """One score (radio buttons carrying each level's guidance) and one comment per critère,
    then the overall appraisal.

    Every field is optional here: completeness on submit, the scoring window and the right to
    score are the service's to decide (``jury_services.save_evaluation``), so a draft can be saved
    half-filled. The form only turns posted text into values, and refuses a score that is not
    one of the critère's levels (a tampered post) with a French message.
    """

    def __init__(self, candidature, evaluation=None, data=None, *, disabled=False):
        self.criteres = list(candidature.appel.criteres.prefetch_related("niveaux"))
        super().__init__(data=data, initial=self._initial(evaluation))
        for critere in self.criteres:
            guidance = {niveau.note: niveau.description.strip() for niveau in critere.niveaux.all()}
            choices = [
                (note, f"{note} — {guidance[note]}" if guidance.get(note) else str(note))
                for note in range(critere.note_max + 1)
            ]
            self.fields[f"{NOTE_PREFIX}{critere.pk}"] = forms.TypedChoiceField(
                label=critere.libelle,
                choices=choices,
                coerce=int,
                empty_value=None,
                required=False,
                widget=forms.RadioSelect(attrs={"class": "radiolist niveaux"}),
                error_messages={
                    "invalid_choice": f"Choisissez une note entre 0 et {critere.note_max}."
                },
            )
            self.fields[f"{COMMENT_PREFIX}{critere.pk}"] = forms.CharField(
                label=f"Commentaire sur « {critere.libelle} »",
                required=False,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
            )
        self.fields["recommandation"] = forms.ChoiceField(
            label="Votre recommandation",
            choices=Recommandation.choices,
            required=False,
            widget=forms.RadioSelect(attrs={"class": "radiolist"}),
            error_messages={"invalid_choice": "Choisissez une recommandation dans la liste."},
        )
        self.fields["retour_collectivite"] = forms.CharField(
            label="Retour pour la collectivité",
            help_text="Peut être cité dans le courrier de décision envoyé à la collectivité.",
            required=False,
            widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        )
        self.fields["commentaire_prive"] = forms.CharField(
            label="Commentaire pour le jury",
            help_text=(
                "Lu par les autres juré·es une fois la délibération ouverte ; jamais transmis "
                "à la collectivité."
            ),
            required=False,
            widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        )
        if disabled:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def _initial(evaluation):
        if evaluation is None:
            return {}
        initial = {
            "recommandation": evaluation.recommandation,
            "retour_collectivite": evaluation.retour_collectivite,
            "commentaire_prive": evaluation.commentaire_prive,
        }
        for note in evaluation.notes.all():
            initial[f"{NOTE_PREFIX}{note.critere_id}"] = note.valeur
            initial[f"{COMMENT_PREFIX}{note.critere_id}"] = note.commentaire
        return initial

    def critere_rows(self):
        """(critère, score field, comment field) in the grid's order, for the template."""
        return [
            (critere, self[f"{NOTE_PREFIX}{critere.pk}"], self[f"{COMMENT_PREFIX}{critere.pk}"])
            for critere in self.criteres
        ]

    def notes(self) -> dict:
        """``{critère: (score or None, comment)}`` as ``jury_services.save_evaluation`` takes it."""
        return {
            critere: (
                self.cleaned_data.get(f"{NOTE_PREFIX}{critere.pk}"),
                self.cleaned_data.get(f"{COMMENT_PREFIX}{critere.pk}", ""),
            )
            for critere in self.criteres
        }

    def error_summary(self) -> list[str]:
        """Every error as one French sentence, for the box at the top of the page."""
        summary = list(self.non_field_errors())
        for name, errors in self.errors.items():
            if name == NON_FIELD_ERRORS:
                continue
            label = self.fields[name].label
            summary.extend(f"{label} : {error}" for error in errors)
        return summary


class DeportForm(forms.Form):
    motif = forms.CharField(
        label="Raison",
        help_text=(
            "Par exemple : « J'habite la commune » ou « Je travaille avec l'EPCI ». "
            "Conservée dans le registre des conflits d'intérêts."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        error_messages={"required": "Indiquez la raison pour laquelle vous vous déportez."},
    )
