from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.urls import reverse

from .signin import normalise_email, safe_next_url


class SignInForm(forms.Form):
    email = forms.EmailField(
        label="Votre adresse e-mail",
        max_length=254,
        help_text=(
            "Nous vous envoyons un lien pour vous connecter, sans mot de passe. "
            "Utilisez l'adresse à laquelle vous souhaitez suivre le dossier de votre collectivité."
        ),
        error_messages={
            "required": "Indiquez votre adresse e-mail.",
            "invalid": (
                "Cette adresse e-mail n'est pas valide. "
                "Vérifiez-la, par exemple : prenom.nom@mairie-exemple.fr."
            ),
            "max_length": "Cette adresse e-mail est trop longue (254 caractères au plus).",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autocapitalize": "none"}),
    )
    # Where to land after signing in; only paths on this site survive (see safe_next_url).
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_action = reverse("candidatures:connexion")
        self.helper.add_input(Submit("submit", "Recevoir un lien de connexion"))

    def clean_email(self):
        return normalise_email(self.cleaned_data["email"])

    def clean_next(self):
        return safe_next_url(self.cleaned_data.get("next"))
