"""Forms of the journal de bord and of the commitments, participant side."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError

from cerdd_ami.formats import format_date_fr
from cycle.journal import services as journal
from cycle.journal.models import Engagement, EntreeJournal
from cycle.seances.models import Seance

# Who reads what, said where the visibility is chosen. « Binôme » entries are readable by the
# whole participation (``EntreeJournal.objects.readable_by``): the label says so.
VISIBILITE_CHOICES = [
    (EntreeJournal.Visibilite.PRIVEE, "Privée (moi seul·e)"),
    (EntreeJournal.Visibilite.BINOME, "Mon binôme, nos suppléant·es et référent·es"),
    (EntreeJournal.Visibilite.PARTAGEE, "Partagée avec tout le cycle"),
]
QUI_LIT = (
    "L'équipe du Cerdd ne lit que les entrées partagées avec tout le cycle, qui alimentent la "
    "capitalisation du cycle ; jamais vos entrées privées ni celles réservées au binôme."
)


class EntreeJournalForm(forms.Form):
    seance = forms.ModelChoiceField(
        label="Séance",
        queryset=Seance.objects.none(),
        required=False,
        empty_label="Entre deux séances",
    )
    points_forts = forms.CharField(
        label="Points forts retenus",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    points_vigilance = forms.CharField(
        label="Points de vigilance",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    idees = forms.CharField(
        label="Idées", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    marges_progression = forms.CharField(
        label="Marges de progression",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    visibilite = forms.ChoiceField(
        label="Qui peut lire cette entrée ?",
        choices=VISIBILITE_CHOICES,
        initial=EntreeJournal.Visibilite.PRIVEE,
        widget=forms.RadioSelect,
        help_text=(
            "Privée par défaut. Vous pourrez la partager ou retirer le partage plus tard. "
            "« Mon binôme » : lue par les membres de votre binôme, vos suppléant·es et vos "
            "référent·es. " + QUI_LIT
        ),
    )

    def __init__(
        self, *args, participant, submit_label="Enregistrer l'entrée", entree=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        # Only séances already started; an entry already attached to a later one keeps it.
        seances = Seance.objects.filter(cycle_id=participant.cycle_id).started()
        if entree is not None and entree.seance_id is not None:
            seances = seances | Seance.objects.filter(pk=entree.seance_id)
        self.fields["seance"].queryset = seances.order_by("numero")
        self.fields["seance"].label_from_instance = lambda s: (
            f"Séance {s.numero} — {format_date_fr(s.date)}"
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's <form> carries the token
        self.helper.layout = Layout(
            "seance",
            Fieldset(
                "Vos notes (au moins une rubrique)",
                "points_forts",
                "points_vigilance",
                "idees",
                "marges_progression",
            ),
            "visibilite",
            Submit("enregistrer", submit_label),
        )

    def clean(self):
        cleaned = super().clean()
        if not any((cleaned.get(name) or "").strip() for name in journal.PROMPTS):
            raise ValidationError(journal.EMPTY_ENTRY)
        return cleaned

    def add_service_errors(self, error: ValidationError):
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                for message in errors:
                    self.add_error(None if field == "__all__" else field, message)
        else:
            for message in error.messages:
                self.add_error(None, message)


class EngagementForm(forms.Form):
    nature = forms.ChoiceField(label="Nature", choices=Engagement.Nature.choices)
    description = forms.CharField(
        label="Ce que vous allez expérimenter",
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AvancementForm(forms.Form):
    engagement = forms.IntegerField(widget=forms.HiddenInput)
    statut = forms.ChoiceField(label="État", choices=Engagement.Statut.choices)
    date = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    texte = forms.CharField(
        label="Où en êtes-vous ?", max_length=3000, widget=forms.Textarea(attrs={"rows": 2})
    )
