"""Forms of the calls' staff pages."""

from django import forms

from .models import Appel


class NextEditionForm(forms.Form):
    """« Préparer l'édition suivante »: what staff choose; the service checks the rest."""

    titre = forms.CharField(
        label="Titre de la nouvelle édition",
        max_length=Appel._meta.get_field("titre").max_length,
        widget=forms.TextInput(attrs={"size": 70}),
    )
    slug = forms.SlugField(
        label="Identifiant court",
        max_length=Appel._meta.get_field("slug").max_length,
        help_text="Il figure dans l'adresse de la page publique, par exemple « 2022 ».",
    )
    prefixe_numero = forms.CharField(
        label="Préfixe des numéros de dossier",
        max_length=Appel._meta.get_field("prefixe_numero").max_length,
        help_text="Les dossiers de la nouvelle édition sont numérotés à partir de 1.",
    )
    offset_months = forms.IntegerField(
        label="Décaler les dates de (mois)",
        min_value=0,
        max_value=120,
        initial=12,
        help_text="12 mois : la même date l'année suivante, à la même heure de Paris.",
    )
    offset_days = forms.IntegerField(
        label="puis de (jours)",
        min_value=0,
        max_value=366,
        initial=0,
        help_text="Par exemple 0 mois et 364 jours (52 semaines) pour garder chaque date le même "
        "jour de la semaine.",
    )
