"""Forms of the participants' network. No ``maxlength`` on the message: the browser would cut
a pasted text silently; the server refuses it with a French message and keeps it all."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from cerdd_ami.formats import format_date_fr
from cycle.reseau import services
from cycle.seances.models import Seance
from cycle.sondage.models import THEMES_APPEL

FILE_HELP = "Facultatif. PDF, DOC, DOCX, ODT, PNG ou JPEG, {limit} au plus."


def _add_service_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


class _NetworkForm(forms.Form):
    texte = forms.CharField(
        label="Votre message",
        strip=False,  # the service strips; the text comes back exactly as typed
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": services.EMPTY_MESSAGE},
    )
    fichier = forms.FileField(label="Pièce jointe", required=False)

    submit_label = "Envoyer"
    fields_order = ("texte", "fichier")

    def __init__(self, *args, max_file_bytes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fichier"].help_text = FILE_HELP.format(limit=filesizeformat(max_file_bytes))
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's <form> carries the token
        self.helper.layout = Layout(*self.fields_order, Submit("envoyer", self.submit_label))

    def clean_texte(self):
        try:
            return services.clean_text(self.cleaned_data["texte"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["texte"]) from None

    add_service_errors = _add_service_errors


class MessageForm(_NetworkForm):
    submit_label = "Envoyer la réponse"


class DiscussionForm(_NetworkForm):
    titre = forms.CharField(label="Titre", error_messages={"required": services.EMPTY_TITLE})
    theme = forms.ChoiceField(
        label="Thème",
        required=False,
        choices=[("", "Aucun thème en particulier"), *THEMES_APPEL],
    )
    seance = forms.ModelChoiceField(
        label="Séance",
        queryset=Seance.objects.none(),
        required=False,
        empty_label="Aucune séance en particulier",
    )

    submit_label = "Ouvrir la discussion"
    fields_order = ("titre", "theme", "seance", "texte", "fichier")

    def __init__(self, *args, cycle_id, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["seance"].queryset = Seance.objects.filter(cycle_id=cycle_id).order_by("numero")
        self.fields["seance"].label_from_instance = lambda s: (
            f"Séance {s.numero} — {format_date_fr(s.date)}"
        )

    def clean_titre(self):
        titre = self.cleaned_data["titre"].strip()
        if len(titre) > services.MAX_TITLE_LENGTH:
            raise ValidationError(
                f"Le titre compte au plus {services.MAX_TITLE_LENGTH} caractères "
                f"(il en compte {len(titre)})."
            )
        return titre
