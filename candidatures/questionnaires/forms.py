"""The form of one questionnaire step, built from its questions (no query of its own: the
caller passes questions and answers it has read once, so 3 or 30 questions cost the same).

Drafts accept blanks: what a question requires is checked at the deposit (``obligatoire``
marks the field « (obligatoire) »). What is typed but invalid comes back with a French message
beside the field and everything typed kept.
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.html import escape

from cerdd_ami.formats import format_integer_fr
from cerdd_ami.forms import (
    BootstrapCheckboxSelectMultiple,
    BootstrapRadioSelect,
    FieldsetsFormMixin,
)

from .models import AUTRE, Question
from .standard import TEXT_MAX_LENGTH

PHONE_RE = re.compile(r"^(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}$")
INVALID_EMAIL = "Saisissez une adresse e-mail valide, par exemple nom@mairie.fr."
INVALID_PHONE = (
    "Saisissez un numéro de téléphone français à 10 chiffres, par exemple 03 21 00 00 00."
)
INVALID_URL = "Saisissez une adresse web valide, par exemple https://www.mairie.fr."
INVALID_DATE = "Saisissez une date valide, par exemple 15/03/2025."
INVALID_NUMBER = "Saisissez un nombre, par exemple 12 ou 12,5."
AUTRE_MISSING = "Précisez votre réponse « Autre »."
SHORT_TEXT_MAX = 300


class FrenchDecimalField(forms.DecimalField):
    """A number typed the French way (« 12,5 », « 1 200 ») or the English one."""

    def to_python(self, value):
        if isinstance(value, str):
            value = re.sub(r"[\s\u00a0\u202f]", "", value).replace(",", ".")
        if value in self.empty_values:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError(INVALID_NUMBER, code="invalid") from None
        if not number.is_finite():
            raise ValidationError(INVALID_NUMBER, code="invalid")
        return number

    def validate(self, value):
        forms.Field.validate(self, value)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class TextAnswerField(forms.CharField):
    """A text answer with each line break as « \n ». Chromium's ``maxlength`` and the counter
    count a line break as one character but the browser sends it as « \r\n »: counted as two,
    a text the browser let through at the maximum would be refused."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if value else value


def length_hint(minimum, maximum) -> str:
    """« 500 caractères au moins, 3 000 au plus. »: what the live counter tells, said before
    typing and without JavaScript; "" without a minimum (the browser keeps to the maximum)."""
    if not minimum:
        return ""
    return (
        f"{format_integer_fr(minimum)} caractères au moins, {format_integer_fr(maximum)} au plus."
    )


def _text_field(question, *, long):
    maximum = question.option("max_caracteres") or (TEXT_MAX_LENGTH if long else SHORT_TEXT_MAX)
    attrs = {"maxlength": maximum}
    if long:
        # static/js/compteur.js counts under the field; the minimum is checked at the deposit.
        attrs.update({"rows": 8, "data-compteur": "1"})
        if minimum := question.option("min_caracteres"):
            attrs["data-min-caracteres"] = minimum
        widget = forms.Textarea(attrs=attrs)
    else:
        widget = forms.TextInput(attrs=attrs)
    field = TextAnswerField(widget=widget)
    field.validators.append(MaxLengthValidator(maximum))
    return field


def _number_field(question):
    minimum, maximum = question.option("min"), question.option("max")
    field = FrenchDecimalField(
        max_digits=18,
        decimal_places=4,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        error_messages={
            "invalid": INVALID_NUMBER,
            "max_digits": "Ce nombre est trop grand.",
            "max_decimal_places": "Au plus 4 chiffres après la virgule.",
            "max_whole_digits": "Ce nombre est trop grand.",
        },
    )
    if minimum is not None:
        field.validators.append(_bound(Decimal(str(minimum)), low=True))
    if maximum is not None:
        field.validators.append(_bound(Decimal(str(maximum)), low=False))
    return field


def _bound(limit, *, low):
    text = format(limit.normalize(), "f").replace(".", ",")

    def check(value):
        if value is None:
            return
        if low and value < limit:
            raise ValidationError(f"Saisissez un nombre supérieur ou égal à {text}.", code="min")
        if not low and value > limit:
            raise ValidationError(f"Saisissez un nombre inférieur ou égal à {text}.", code="max")

    return check


def _phone(value):
    if value and not PHONE_RE.match(value):
        raise ValidationError(INVALID_PHONE, code="invalid")


def _choices(question):
    choices = [(choice, choice) for choice in question.option("choix", [])]
    if question.option("autre"):
        choices.append((AUTRE, "Autre"))
    return choices


def build_field(question) -> forms.Field:
    """The form field of one question; its value is read back by ``QuestionnaireForm``."""
    Type = Question.Type
    kind = question.type
    if kind in (Type.TEXTE_COURT, Type.TEXTE_LONG):
        field = _text_field(question, long=kind == Type.TEXTE_LONG)
    elif kind == Type.CHOIX_UNIQUE:
        field = forms.ChoiceField(
            choices=_choices(question),
            widget=BootstrapRadioSelect,
            error_messages={"invalid_choice": "Choisissez une des réponses proposées."},
        )
    elif kind == Type.CHOIX_MULTIPLE:
        field = forms.MultipleChoiceField(
            choices=_choices(question),
            widget=BootstrapCheckboxSelectMultiple,
            error_messages={"invalid_choice": "Choisissez parmi les réponses proposées."},
        )
    elif kind == Type.OUI_NON:
        field = forms.TypedChoiceField(
            choices=[("oui", "Oui"), ("non", "Non")],
            coerce=lambda value: value == "oui",
            empty_value=None,
            widget=BootstrapRadioSelect,
            error_messages={"invalid_choice": "Répondez par oui ou par non."},
        )
    elif kind == Type.NOMBRE:
        field = _number_field(question)
    elif kind == Type.DATE:
        field = forms.DateField(
            input_formats=["%Y-%m-%d", "%d/%m/%Y"],
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            error_messages={"invalid": INVALID_DATE},
        )
    elif kind == Type.EMAIL:
        field = forms.EmailField(
            widget=forms.EmailInput(attrs={"autocomplete": "off"}),
            error_messages={"invalid": INVALID_EMAIL},
        )
    elif kind == Type.TELEPHONE:
        field = forms.CharField(
            max_length=20,
            widget=forms.TextInput(attrs={"type": "tel"}),
            validators=[_phone],
            error_messages={"max_length": INVALID_PHONE},
        )
    elif kind == Type.URL:
        field = forms.URLField(
            max_length=500, assume_scheme="https", error_messages={"invalid": INVALID_URL}
        )
    else:
        accept = ",".join(f".{key}" for key in question.option("formats", ["pdf"]))
        if question.option("plusieurs"):
            field = MultipleFileField(widget=MultipleFileInput(attrs={"accept": accept}))
        else:
            field = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": accept}))
        field.error_messages["empty"] = "Le fichier est vide."
    field.required = False
    field.obligatoire = question.obligatoire
    field.label = question.libelle
    field.help_text = escape(question.aide)
    if kind == Type.TEXTE_LONG and (
        hint := length_hint(question.option("min_caracteres"), field.widget.attrs["maxlength"])
    ):
        field.help_text = f"{field.help_text} {hint}" if field.help_text else hint
    return field


def initial_value(question, valeur):
    Type = question.Type
    if valeur is None:
        return None
    if question.type in (Type.CHOIX_UNIQUE, Type.CHOIX_MULTIPLE):
        chosen = list((valeur or {}).get("choix", []))
        return chosen[0] if question.type == Type.CHOIX_UNIQUE and chosen else chosen
    if question.type == Type.OUI_NON:
        return {True: "oui", False: "non"}.get(valeur)
    return valeur


class QuestionnaireForm(FieldsetsFormMixin, forms.Form):
    """One questionnaire step: a field per question (« <code> »), plus « <code>_autre » for a
    choice question offering « Autre ». ``valeurs`` maps question pk → stored answer."""

    def __init__(self, data=None, files=None, *, etape, questions, valeurs=None, **kwargs):
        super().__init__(data, files, **kwargs)
        self.etape = etape
        self.questions = list(questions)
        valeurs = valeurs or {}
        names = []
        for question in self.questions:
            valeur = valeurs.get(question.pk)
            field = build_field(question)
            field.initial = initial_value(question, valeur)
            self.fields[question.code] = field
            names.append(question.code)
            if question.type in (question.Type.CHOIX_UNIQUE, question.Type.CHOIX_MULTIPLE) and (
                question.option("autre")
            ):
                self.fields[f"{question.code}_autre"] = forms.CharField(
                    label=f"Autre réponse à « {question.titre} »",
                    required=False,
                    max_length=SHORT_TEXT_MAX,
                    initial=(valeur or {}).get("autre", ""),
                    help_text="À préciser si vous cochez « Autre ».",
                )
                names.append(f"{question.code}_autre")
        self.fieldsets = [(etape.titre, escape(etape.intro), names)] if etape else []

    def clean(self):
        cleaned = super().clean()
        for question in self.questions:
            if not question.option("autre"):
                continue
            chosen = cleaned.get(question.code) or []
            chosen = [chosen] if isinstance(chosen, str) else chosen
            autre = (cleaned.get(f"{question.code}_autre") or "").strip()
            if AUTRE in chosen and not autre:
                self.add_error(f"{question.code}_autre", AUTRE_MISSING)
        return cleaned

    def answers(self) -> dict:
        """{question: valeur to store} for every non-file question of the step."""
        answers = {}
        for question in self.questions:
            if question.est_fichier:
                continue
            value = self.cleaned_data.get(question.code)
            answers[question] = to_stored(question, value, self.cleaned_data)
        return answers

    def uploads(self) -> dict:
        """{question: [uploaded files]} for the file questions given a file."""
        uploads = {}
        for question in self.questions:
            if question.est_fichier:
                value = self.cleaned_data.get(question.code)
                value = value if isinstance(value, list) else [value] if value else []
                if value:
                    uploads[question] = value
        return uploads


def to_stored(question, value, cleaned=None):
    """The JSON stored in Reponse.valeur for a cleaned form value."""
    Type = question.Type
    if question.type in (Type.CHOIX_UNIQUE, Type.CHOIX_MULTIPLE):
        chosen = [value] if isinstance(value, str) and value else list(value or [])
        autre = ""
        if AUTRE in chosen:
            autre = ((cleaned or {}).get(f"{question.code}_autre") or "").strip()
        return {"choix": chosen, "autre": autre}
    if question.type == Type.OUI_NON:
        return value
    if question.type == Type.NOMBRE:
        return None if value is None else format(value.normalize(), "f")
    if question.type == Type.DATE:
        return value.isoformat() if value else ""
    return (value or "").strip() if isinstance(value, str) else value or ""
