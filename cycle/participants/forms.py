"""Forms of the participant space: the binôme confirmation and the withdrawal."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError

from candidatures.dossiers.forms import INVALID_EMAIL, clean_phone
from cycle.participants.models import MembreBinome

# (prefix, role, titulaire, legend, « de … » in messages: « du ou de la », never « de le »)
SLOTS = [
    ("elu", MembreBinome.Role.ELU, True, "Élu·e titulaire", "de l'élu·e titulaire"),
    (
        "technicien",
        MembreBinome.Role.TECHNICIEN,
        True,
        "Technicien·ne titulaire",
        "du ou de la technicien·ne titulaire",
    ),
    (
        "suppleant_elu",
        MembreBinome.Role.ELU,
        False,
        "Suppléant·e élu·e (facultatif)",
        "du ou de la suppléant·e élu·e",
    ),
    (
        "suppleant_technicien",
        MembreBinome.Role.TECHNICIEN,
        False,
        "Suppléant·e technicien·ne (facultatif)",
        "du ou de la suppléant·e technicien·ne",
    ),
]
PERSON_FIELDS = ["nom", "fonction", "email", "telephone"]


class BinomeForm(forms.Form):
    """A fixed form: the two titulaires, required, and one optional suppléant·e per role."""

    def __init__(self, *args, membres=(), confirme=False, **kwargs):
        super().__init__(*args, **kwargs)
        initial = {}
        for membre in membres:
            slot = next(
                (s for s in SLOTS if s[1] == membre.role and s[2] == membre.titulaire), None
            )
            if slot and f"{slot[0]}_nom" not in initial:
                for name in PERSON_FIELDS:
                    initial[f"{slot[0]}_{name}"] = getattr(membre, name)
        fieldsets = []
        for prefix, _role, titulaire, legend, label in SLOTS:
            # A titulaire's name and e-mail are required: marked as such (RGAA 11.10), with
            # the same messages as ``clean`` gives a suppléant·e half filled in.
            self.fields[f"{prefix}_nom"] = forms.CharField(
                label="Nom et prénom",
                max_length=150,
                required=titulaire,
                error_messages={"required": f"Indiquez le nom et prénom {label}."},
            )
            self.fields[f"{prefix}_fonction"] = forms.CharField(
                label="Fonction", max_length=200, required=False
            )
            self.fields[f"{prefix}_email"] = forms.EmailField(
                label="E-mail",
                required=titulaire,
                error_messages={
                    "invalid": INVALID_EMAIL,
                    "required": f"Indiquez l'adresse e-mail {label}.",
                },
                widget=forms.EmailInput(attrs={"autocomplete": "off"}),
            )
            self.fields[f"{prefix}_telephone"] = forms.CharField(
                label="Téléphone",
                max_length=20,
                required=False,
                widget=forms.TextInput(attrs={"type": "tel"}),
            )
            fieldsets.append(Fieldset(legend, *(f"{prefix}_{name}" for name in PERSON_FIELDS)))
        for name, value in initial.items():
            self.fields[name].initial = value
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            *fieldsets,
            HTML(
                '<p class="small">Chaque membre pourra se connecter à l\'espace du cycle avec '
                "un lien reçu à son adresse e-mail.</p>"
            ),
            # Once confirmed, the page only changes the binôme: said as such on the button.
            Submit(
                "confirmer",
                "Enregistrer le binôme"
                if confirme
                else "Confirmer notre participation et notre binôme",
            ),
        )

    def clean(self):
        cleaned = super().clean()
        for prefix, _role, titulaire, _legend, label in SLOTS:
            values = {name: cleaned.get(f"{prefix}_{name}") or "" for name in PERSON_FIELDS}
            filled = any(values.values())
            if not (titulaire or filled):
                continue
            if not values["nom"].strip() and f"{prefix}_nom" not in self.errors:
                self.add_error(f"{prefix}_nom", f"Indiquez le nom et prénom {label}.")
            if not values["email"] and f"{prefix}_email" not in self.errors:
                self.add_error(f"{prefix}_email", f"Indiquez l'adresse e-mail {label}.")
            try:
                cleaned[f"{prefix}_telephone"] = clean_phone(values["telephone"])
            except ValidationError as error:
                self.add_error(f"{prefix}_telephone", error)
        return cleaned

    def error_summary(self) -> list[tuple[str, str]]:
        """``(field id, message)`` of every field error, the slot's legend in front: the
        four slots' fields share their labels (« E-mail »…)."""
        legends = {prefix: legend for prefix, _role, _titulaire, legend, _label in SLOTS}
        summary = []
        for name, errors in self.errors.items():
            if name == "__all__":
                continue
            prefix = name.rsplit("_", 1)[0]
            field = self[name]
            for error in errors:
                summary.append(
                    (field.auto_id, f"{legends[prefix]}, {field.label.lower()} : {error}")
                )
        return summary

    def binome(self) -> list[dict]:
        """The members entered, as ``services.confirm_participation`` takes them."""
        members = []
        for prefix, role, titulaire, _legend, _label in SLOTS:
            values = {
                name: self.cleaned_data.get(f"{prefix}_{name}") or "" for name in PERSON_FIELDS
            }
            if titulaire or any(values.values()):
                members.append({"role": role, "titulaire": titulaire, **values})
        return members


class RetraitForm(forms.Form):
    motif = forms.CharField(
        label="Motif du retrait",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Indiquez le motif du retrait."},
        help_text="Le Cerdd pourra proposer votre place à la collectivité suivante de la liste "
        "d'attente.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "motif", Submit("retirer", "Confirmer le retrait", css_class="btn-danger")
        )
