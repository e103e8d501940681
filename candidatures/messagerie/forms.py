from django import forms

from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.forms import FieldsetsFormMixin

from .models import MAX_TEXT_LENGTH, Message

ACCEPT = ".pdf,.doc,.docx,.odt,.png,.jpg,.jpeg"


class MessageForm(FieldsetsFormMixin, forms.Form):
    """A message in the dossier's thread; a référent·e may answer an open « demande de
    complément » with the requested file, which joins the dossier's pieces."""

    texte = forms.CharField(
        label="Votre message",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=MAX_TEXT_LENGTH,
        error_messages={
            "required": "Écrivez votre message.",
            "max_length": "Votre message compte %(show_value)d caractères : la limite est de "
            "%(limit_value)d.",
        },
    )
    fichier = forms.FileField(
        label="Pièce jointe (facultative)",
        required=False,
        help_text="PDF, DOC, DOCX, ODT, PNG ou JPEG.",
        error_messages={"empty": "Le fichier est vide."},
    )
    demande = forms.ModelChoiceField(
        label="Ce message répond à la demande de complément",
        queryset=Message.objects.none(),
        required=False,
        empty_label="Non, c'est un simple message",
        help_text="Le fichier joint est alors ajouté aux pièces du dossier.",
    )

    def __init__(self, *args, demandes=None, appel=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fichier"].widget.attrs["accept"] = ACCEPT
        if appel is not None:
            self.fields["fichier"].help_text += f" {appel.taille_max_fichier_mo} Mo au plus."
        if demandes is None:
            del self.fields["demande"]
        else:
            self.fields["demande"].queryset = Message.objects.filter(
                pk__in=[demande.pk for demande in demandes]
            )
            self.fields["demande"].label_from_instance = lambda demande: (
                f"Demande du {format_date_fr(demande.created_at)}, à fournir avant le "
                f"{format_datetime_fr(demande.echeance)}"
            )
            if len(demandes) == 1:
                self.fields["demande"].initial = demandes[0].pk

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("demande") and not cleaned.get("fichier") and "fichier" not in self.errors:
            self.add_error("fichier", "Joignez la pièce demandée.")
        return cleaned


class DemandeComplementForm(FieldsetsFormMixin, forms.Form):
    texte = forms.CharField(
        label="Pièce demandée et explication",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=MAX_TEXT_LENGTH,
        error_messages={"required": "Indiquez la pièce demandée."},
    )
    echeance = forms.DateTimeField(
        label="À fournir avant le (heure de Paris)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
        error_messages={"required": "Indiquez l'échéance.", "invalid": "Date et heure invalides."},
    )
