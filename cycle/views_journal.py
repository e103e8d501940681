"""The journal de bord, participant side: my journal, the shared journal, the tour de table.

Every participation is looked up through ``Participant.objects.of_user`` and every entry through
``EntreeJournal.objects.readable_by``: somebody else's private entry is a 404, never a 403, so
that its existence is not revealed.
"""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cerdd_ami.formats import format_date_fr

from . import journal
from .models import EntreeJournal, Participant, Seance

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


def _participation(request, pk) -> Participant:
    queryset = Participant.objects.of_user(request.user).select_related(
        "cycle", "candidature__collectivite"
    )
    return get_object_or_404(queryset, pk=pk)


def _shared_participation(request, pk) -> Participant:
    """For the shared journal: its participants, and the Cerdd's facilitators, who project
    the tour de table (``readable_by`` still gives staff the shared entries only)."""
    if request.user.is_staff and request.user.has_perm("cycle.view_entreejournal"):
        queryset = Participant.objects.select_related("cycle", "candidature__collectivite")
        return get_object_or_404(queryset, pk=pk)
    return _participation(request, pk)


def _entries(request, participant):
    return journal.with_versions(
        EntreeJournal.objects.readable_by(request.user)
        .filter(participant=participant)
        .select_related("auteur", "seance")
        .prefetch_related("reponses")
    ).order_by("-created_at", "-pk")


def _own_entry(request, participant, entree_pk) -> EntreeJournal:
    entree = get_object_or_404(_entries(request, participant), pk=entree_pk)
    if entree.auteur_id != request.user.pk:
        # Readable (binôme or shared) but not theirs: nothing to edit here.
        raise Http404
    return entree


@login_required
def journal_list(request, participant_pk):
    """My entries and those my binôme shares with me, with the form to write a new one."""
    participant = _participation(request, participant_pk)
    retire = participant.statut == Participant.Statut.RETIRE
    form = EntreeJournalForm(request.POST or None, participant=participant)
    if request.method == "POST" and retire:
        # Reading stays; writing stops (write_entry refuses it too).
        messages.error(request, journal.WITHDRAWN)
        return redirect("cycle:journal", participant.pk)
    if request.method == "POST" and form.is_valid():
        try:
            journal.write_entry(participant=participant, auteur=request.user, **form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Votre entrée est enregistrée dans le journal de bord.")
            return redirect("cycle:journal", participant.pk)
    return render(
        request,
        "cycle/journal/list.html",
        {
            "participant": participant,
            "entries": list(_entries(request, participant)),
            "form": None if retire else form,
            "retire": retire,
            "retire_message": journal.WITHDRAWN,
            "qui_lit": QUI_LIT,
        },
    )


@login_required
def journal_edit(request, participant_pk, entree_pk):
    participant = _participation(request, participant_pk)
    entree = _own_entry(request, participant, entree_pk)
    initial = {name: getattr(entree, name) for name in journal.EDITABLE_FIELDS}
    form = EntreeJournalForm(
        request.POST or None,
        participant=participant,
        initial=initial,
        entree=entree,
        submit_label="Enregistrer les modifications",
    )
    if request.method == "POST" and form.is_valid():
        try:
            journal.update_entry(entree=entree, auteur=request.user, **form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Votre entrée est modifiée.")
            return redirect("cycle:journal", participant.pk)
    return render(
        request,
        "cycle/journal/edit.html",
        {"participant": participant, "entree": entree, "form": form},
    )


@require_POST
@login_required
def journal_delete(request, participant_pk, entree_pk):
    participant = _participation(request, participant_pk)
    entree = _own_entry(request, participant, entree_pk)
    try:
        journal.delete_entry(entree=entree, auteur=request.user)
    except PermissionDenied:
        raise Http404 from None
    messages.success(request, "Votre entrée est supprimée.")
    return redirect("cycle:journal", participant.pk)


def _shared_blocks(request, participant):
    seances = list(
        Seance.objects.filter(cycle_id=participant.cycle_id).select_related("collectivite_hote")
    )
    entries = (
        EntreeJournal.objects.readable_by(request.user)
        .partagees()
        .filter(participant__cycle_id=participant.cycle_id)
        .select_related("participant__candidature__collectivite", "auteur", "seance")
        .prefetch_related("reponses")
        .order_by("created_at", "pk")
    )
    return seances, journal.shared_by_seance(entries, seances)


@login_required
def journal_partage(request, participant_pk):
    """The cycle's shared entries, per séance, grouped by collectivité, with the replies."""
    participant = _shared_participation(request, participant_pk)
    _seances, blocks = _shared_blocks(request, participant)
    # Facilitators answer from the admin (the same permissions as its « Répondre » page).
    staff_reply = request.user.is_staff and request.user.has_perms(
        ("cycle.view_entreejournal", "cycle.add_reponsefacilitateur")
    )
    return render(
        request,
        "cycle/journal/partage.html",
        {"participant": participant, "blocks": blocks, "staff_reply": staff_reply},
    )


@login_required
def tour_de_table(request, participant_pk, seance_numero):
    """Projector mode: one collectivité's shared entries at a time, ``?i=N`` (0-based)."""
    participant = _shared_participation(request, participant_pk)
    seances, blocks = _shared_blocks(request, participant)
    seance = next((s for s in seances if s.numero == seance_numero), None)
    if seance is None:
        raise Http404
    groups = next((b["collectivites"] for b in blocks if b["seance"] == seance), [])
    try:
        index = int(request.GET.get("i", 0))
    except ValueError:
        index = 0
    index = min(max(index, 0), max(len(groups) - 1, 0))
    current = groups[index] if groups else None
    return render(
        request,
        "cycle/journal/tour_de_table.html",
        {
            "participant": participant,
            "seance": seance,
            "collectivite": current[0] if current else None,
            "entries": current[1] if current else [],
            "index": index,
            "position": index + 1,
            "total": len(groups),
            "previous": index - 1 if index > 0 else None,
            "next": index + 1 if index + 1 < len(groups) else None,
        },
    )
