"""The decision form of the admin: issue, motivation, the jury's feedback, the rank."""

from django import forms
from django.core.exceptions import ValidationError

from candidatures.decisions import services as decisions_services
from candidatures.dossiers.models import Candidature

from .models import Decision


class DecisionForm(forms.ModelForm):
    """The decision on one dossier; ``decisions_services.check_decision`` says what is refused."""

    retour_jury = forms.ChoiceField(
        label="Retour du jury cité dans le courrier",
        required=False,
        widget=forms.RadioSelect,
        help_text="Choisi parmi les « retours pour la collectivité » des juré·es (évaluations "
        "soumises, hors conflits d'intérêts).",
    )

    class Meta:
        model = Decision
        fields = ["candidature", "issue", "rang_attente", "motivation", "retour_jury"]
        widgets = {"motivation": forms.Textarea(attrs={"rows": 5, "cols": 80})}
        help_texts = {
            "motivation": "Obligatoire pour « liste d'attente » et « non retenue » : elle figure "
            "dans le courrier et sur la page du dossier de la collectivité.",
            "rang_attente": "Laisser vide : le dossier prend la dernière place de la liste "
            "d'attente (ou garde la sienne). Un rang donné décale les suivants.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "candidature" in self.fields:
            undecided = Candidature.objects.deposees().filter(decision__isnull=True)
            field = self.fields["candidature"]
            field.queryset = undecided.select_related("collectivite").order_by("numero")
            field.label_from_instance = lambda c: f"{c.numero} — {c.collectivite.nom}"
            field.label = "Dossier"
            field.help_text = "Un dossier déposé, sans décision."
        if "retour_jury" not in self.fields:
            return  # a published decision: read-only
        candidature = self._candidature()
        feedback = decisions_services.jury_feedback(candidature) if candidature else []
        current = (self.instance.retour_jury or "").strip()
        if current and current not in feedback:
            feedback.append(current)
        self.fields["retour_jury"].choices = [
            ("", "Aucun retour du jury dans le courrier"),
            *[(text, text) for text in feedback],
        ]
        if candidature is None:
            self.fields["retour_jury"].help_text = (
                "Les retours des juré·es s'affichent ici une fois le dossier choisi : ouvrez la "
                "décision depuis la page du dossier (rubrique « Décision », lien « Décider »)."
            )

    def _candidature(self):
        if self.instance.pk:
            return self.instance.candidature
        value = self.data.get("candidature") if self.is_bound else self.initial.get("candidature")
        if isinstance(value, Candidature):
            return value
        if value and str(value).isdigit():
            return Candidature.objects.filter(pk=value).first()
        return None

    def clean(self):
        cleaned = super().clean()
        candidature = cleaned.get("candidature") or (
            self.instance.candidature if self.instance.pk else None
        )
        if candidature is None or "issue" not in cleaned:
            return cleaned
        try:
            decisions_services.check_decision(
                candidature=candidature,
                issue=cleaned["issue"],
                motivation=cleaned.get("motivation", ""),
                rang_attente=cleaned.get("rang_attente"),
            )
        except ValidationError as error:
            self._add_service_error(error)
        return cleaned

    def _add_service_error(self, error):
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, errors in error.error_dict.items():
            self.add_error(name if name in self.fields else None, errors)

    def _post_clean(self):
        # Model validation (its constraints included) would repeat the service's checks in
        # other words: the service is the one rule, so only its messages are shown. The
        # instance is not filled in either: ``DecisionAdmin.save_model`` saves through the
        # service, from ``cleaned_data``.
        pass
