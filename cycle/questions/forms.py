from django import forms
from django.contrib.auth import get_user_model

from cerdd_ami.forms import FieldsetsFormMixin
from cycle.seances.models import Seance

from .models import MAX_TEXT_LENGTH

ACCEPT = ".pdf,.doc,.docx,.odt,.png,.jpg,.jpeg"
TOO_LONG = "Le texte compte %(show_value)d caractères : la limite est de %(limit_value)d."


def _text_field(label, *, required_message, rows=5):
    return forms.CharField(
        label=label,
        widget=forms.Textarea(attrs={"rows": rows}),
        max_length=MAX_TEXT_LENGTH,
        error_messages={"required": required_message, "max_length": TOO_LONG},
    )


class QuestionForm(FieldsetsFormMixin, forms.Form):
    """A participant's question to the Cerdd, optionally about one séance of its cycle."""

    texte = _text_field("Votre question", required_message="Écrivez votre question.")
    seance = forms.ModelChoiceField(
        label="À propos de la séance (facultatif)",
        queryset=Seance.objects.none(),
        required=False,
        empty_label="Pas de séance en particulier",
    )
    fichier = forms.FileField(
        label="Pièce jointe (facultative)",
        required=False,
        help_text="PDF, DOC, DOCX, ODT, PNG ou JPEG.",
        error_messages={"empty": "Le fichier est vide."},
    )

    def __init__(self, *args, participant, **kwargs):
        super().__init__(*args, **kwargs)
        cycle = participant.cycle
        self.fields["seance"].queryset = Seance.objects.filter(cycle=cycle).order_by("numero")
        self.fields["seance"].label_from_instance = lambda seance: f"Séance {seance.numero}"
        self.fields["fichier"].widget.attrs["accept"] = ACCEPT
        self.fields["fichier"].help_text += f" {cycle.appel.taille_max_fichier_mo} Mo au plus."


def staff_users():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("email")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label="Confier la question à",
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="Personne",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff_users()


class ReponseForm(forms.Form):
    reponse = _text_field("Votre réponse", required_message="Écrivez la réponse.", rows=6)


class FAQForm(forms.Form):
    question_texte = _text_field(
        "Question telle qu'elle paraîtra dans la FAQ",
        required_message="Écrivez la question telle qu'elle paraîtra dans la FAQ.",
        rows=4,
    )
    reponse = _text_field("Réponse publiée", required_message="Écrivez la réponse.", rows=6)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question_texte"].help_text = (
            "Retirez tout ce qui identifie la collectivité ou la personne : la FAQ est lue par "
            "toutes les collectivités du cycle."
        )
