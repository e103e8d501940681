from django import forms

from .models import Preference


class PreferenceForm(forms.Form):
    mode = forms.ChoiceField(
        label="Être prévenu·e des nouveaux messages",
        choices=Preference.Mode.choices,
        widget=forms.RadioSelect,
    )
