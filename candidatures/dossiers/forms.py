"""Forms of the application journey. Drafts accept blanks; completeness is checked on submit.

The step forms render with Django's form templates (``FieldsetsFormMixin``), not crispy-forms:
they are the busiest pages of the site, see cerdd_ami/forms.py.
"""

import re

from django import forms
from django.core.exceptions import ValidationError

from candidatures.appels.models import Collectivite
from cerdd_ami.forms import FieldsetsFormMixin

from .models import Candidature

PHONE_RE = re.compile(r"^(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}$")
INVALID_EMAIL = "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr."


def clean_phone(value: str) -> str:
    value = (value or "").strip()
    if value and not PHONE_RE.match(value):
        raise ValidationError(
            "Saisissez un numéro de téléphone français à 10 chiffres, par exemple 03 21 00 00 00."
        )
    return value


DEPOSIT_NEEDS = {field for _step, field, _label in Candidature.DEPOSIT_FIELDS} | set(
    Candidature.ENGAGEMENTS
)


class DraftModelForm(FieldsetsFormMixin, forms.ModelForm):
    """Every field optional while drafting: the dossier is saved as it is, errors aside.

    The fields the deposit needs carry ``obligatoire``, shown « (obligatoire) » by the field
    template: the draft saves without them, the deposit does not.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = False
            field.obligatoire = name in DEPOSIT_NEEDS
            if isinstance(field, forms.EmailField):
                field.error_messages["invalid"] = INVALID_EMAIL


class CoordonneesForm(DraftModelForm):
    class Meta:
        model = Candidature
        fields = ["adresse", "code_postal", "ville", "telephone", "email_contact"]
        widgets = {
            "adresse": forms.TextInput(attrs={"autocomplete": "street-address"}),
            "code_postal": forms.TextInput(
                attrs={"autocomplete": "postal-code", "inputmode": "numeric"}
            ),
            "ville": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "telephone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
            "email_contact": forms.EmailInput(attrs={"autocomplete": "email"}),
        }

    fieldsets = [
        (
            "Coordonnées de la collectivité",
            "",
            ["adresse", "code_postal", "ville", "telephone", "email_contact"],
        )
    ]

    def clean_code_postal(self):
        value = self.cleaned_data["code_postal"].strip()
        if value and not re.fullmatch(r"\d{5}", value):
            raise ValidationError("Le code postal compte 5 chiffres, par exemple 62000.")
        return value

    def clean_telephone(self):
        return clean_phone(self.cleaned_data["telephone"])


PERSON_SUFFIXES = ["nom", "fonction", "email", "telephone"]


class ReferentsForm(DraftModelForm):
    fieldsets = [
        ("Référent·e politique (élu·e)", "", [f"ref_pol_{s}" for s in PERSON_SUFFIXES]),
        ("Référent·e technique", "", [f"ref_tech_{s}" for s in PERSON_SUFFIXES]),
        (
            "Point contact technique pour le Cerdd (facultatif)",
            "À remplir seulement s'il est différent des référent·es politique ou technique.",
            [f"contact_{s}" for s in PERSON_SUFFIXES],
        ),
    ]

    class Meta:
        model = Candidature
        fields = [
            f"{prefix}_{suffix}"
            for prefix in ("ref_pol", "ref_tech", "contact")
            for suffix in PERSON_SUFFIXES
        ]
        help_texts = {
            "ref_pol_fonction": "Par exemple : adjoint·e à la transition écologique.",
            "ref_tech_fonction": "Par exemple : chargé·e de mission développement durable.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name.endswith("_email"):
                field.widget.attrs["autocomplete"] = "email"
            if name.endswith("_telephone"):
                field.widget.input_type = "tel"
                field.widget.attrs["autocomplete"] = "tel"
            if name.endswith("_nom"):
                field.widget.attrs["autocomplete"] = "name"

    def clean(self):
        cleaned = super().clean()
        for prefix in ("ref_pol", "ref_tech", "contact"):
            field = f"{prefix}_telephone"
            if field in cleaned:
                try:
                    cleaned[field] = clean_phone(cleaned[field])
                except ValidationError as error:
                    self.add_error(field, error)
        return cleaned


class EngagementsForm(DraftModelForm):
    fieldsets = [
        (
            "Engagements",
            "",
            ["engagement_binome", "engagement_experimentation", "consentement_donnees"],
        )
    ]

    class Meta:
        model = Candidature
        fields = ["engagement_binome", "engagement_experimentation", "consentement_donnees"]
        labels = {
            "engagement_binome": (
                "La collectivité s'engage à être représentée par un binôme élu·e / "
                "technicien·ne à chaque séance du cycle."
            ),
            "engagement_experimentation": (
                "La collectivité s'engage à chercher à expérimenter sur son territoire les outils "
                "et acquis des séances."
            ),
            "consentement_donnees": (
                "J'accepte que le Cerdd traite les données personnelles de ce dossier pour "
                "l'instruction de la candidature et le suivi du cycle."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consentement_donnees"].help_text = (
            "Responsable : le Cerdd. Conservation : 5 ans après la fin du cycle pour les dossiers "
            "déposés, 12 mois après la clôture de l'appel pour les brouillons. Vous pouvez "
            "télécharger vos données depuis la page du dossier."
        )


# The product's own steps around the call's questionnaire (candidatures.questionnaires): the
# first two, and the last one whatever the number of questionnaire steps.
FIXED_STEP_FORMS = {1: CoordonneesForm, 2: ReferentsForm}
FIXED_STEP_TITLES = {1: "Collectivité et coordonnées", 2: "Référent·es"}
ENGAGEMENTS_TITLE = "Engagements et dépôt"


class CollectiviteChoiceForm(forms.Form):
    collectivite = forms.ModelChoiceField(
        label="Collectivité",
        queryset=Collectivite.objects.active(),
        to_field_name="siren",
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choisissez votre collectivité dans la liste.",
            "invalid_choice": "Cette collectivité ne figure pas dans la liste officielle.",
        },
    )


class InvitationForm(FieldsetsFormMixin, forms.Form):
    """On the dossier page, seen on every visit: Django's field templates, not crispy's
    (a third of the cost, docs/performance.md); the button is in the template."""

    email = forms.EmailField(
        label="Adresse e-mail de votre co-référent·e",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "invalid": "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr."
        },
    )
