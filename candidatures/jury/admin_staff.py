"""The jury's registers in the admin: members, assignments, conflicts of interest, évaluations."""

from collections import defaultdict

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch
from django.utils.html import format_html, format_html_join

from candidatures.dossiers.admin import paris, person
from candidatures.dossiers.models import Candidature
from candidatures.jury import ranking
from candidatures.jury import services as jury_services
from cerdd_ami.admin import EMPTY, HistoryAdmin, ReadOnlyAdminMixin

from .admin_appel import (
    MembreJuryForm,
    _staff_users,
    _user_choice_label,
)
from .models import Affectation, ConflitInteret, Evaluation, MembreJury, Note, RappelJury

# ---------------------------------------------------------------------------------------------
# Jury members and assignments


@admin.register(MembreJury)
class MembreJuryAdmin(admin.ModelAdmin):
    form = MembreJuryForm
    list_display = ["juror_name", "juror_email", "appel", "qualite", "collectivite"]
    list_filter = ["appel"]
    list_select_related = ["appel", "user", "collectivite"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "qualite"]
    autocomplete_fields = ["collectivite"]
    fields = ["appel", "user", "qualite", "collectivite"]

    @admin.display(description="juré·e", ordering="user__last_name")
    def juror_name(self, obj):
        return obj.user.get_full_name() or obj.user.email

    @admin.display(description="e-mail", ordering="user__email")
    def juror_email(self, obj):
        return obj.user.email


class AffectationForm(forms.ModelForm):
    """A manual assignment: the juror must sit on the dossier's jury and not be in conflict
    with it (registered, or detected from their collectivité)."""

    class Meta:
        model = Affectation
        fields = ["candidature", "jure"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jure"].queryset = _staff_users()
        self.fields["jure"].label_from_instance = _user_choice_label
        self.fields["jure"].label = "juré·e"

    def clean(self):
        cleaned = super().clean()
        candidature, jure = cleaned.get("candidature"), cleaned.get("jure")
        if candidature is None or jure is None:
            return cleaned
        if not candidature.est_deposee:
            raise ValidationError("Seuls les dossiers déposés peuvent être affectés.")
        member = (
            MembreJury.objects.filter(appel=candidature.appel_id, user=jure)
            .values_list("collectivite_id", "collectivite__epci_id")
            .first()
        )
        if member is None:
            raise ValidationError(
                "%(jure)s n'est pas membre du jury de cet appel.", params={"jure": person(jure)}
            )
        registered = ConflitInteret.objects.filter(candidature=candidature, jure=jure).exists()
        tie = member if member[0] else None
        dossier = (candidature.collectivite_id, candidature.collectivite.epci_id)
        if registered or ranking.is_tied(tie, dossier):
            raise ValidationError(
                "%(jure)s est en conflit d'intérêts avec ce dossier.", params={"jure": person(jure)}
            )
        return cleaned


@admin.register(Affectation)
class AffectationAdmin(admin.ModelAdmin):
    form = AffectationForm
    list_display = ["numero", "collectivite", "jure_display", "created_at"]
    list_filter = ["candidature__appel", ("jure", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
    ]
    autocomplete_fields = ["candidature"]
    ordering = ["candidature__numero", "jure__last_name"]

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    def has_change_permission(self, request, obj=None):
        # An assignment is a pair: to move a dossier, delete it and add another.
        return False if obj is not None else super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        (saved,) = jury_services.assign_jurors(
            candidature=obj.candidature, jures=[obj.jure], staff_user=request.user
        )
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False


# ---------------------------------------------------------------------------------------------
# History pages that read like the rest of the admin


# ---------------------------------------------------------------------------------------------
# Conflicts register


class ConflitInteretForm(forms.ModelForm):
    class Meta:
        model = ConflitInteret
        fields = ["candidature", "jure", "motif"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "jure" in self.fields:
            self.fields["jure"].queryset = _staff_users()
            self.fields["jure"].label_from_instance = _user_choice_label
            self.fields["jure"].label = "juré·e"


@admin.register(ConflitInteret)
class ConflitInteretAdmin(HistoryAdmin):
    """The register: detected ties and recusals. Declared ones are the juror's word and stay
    as written; none is deleted here, since that would silently put scores back into the
    ranking (the history keeps who changed what anyway)."""

    form = ConflitInteretForm
    list_display = ["numero", "collectivite", "jure_display", "origine", "motif_court", "date"]
    list_filter = [
        "origine",
        "candidature__appel",
        ("jure", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
        "motif",
    ]
    autocomplete_fields = ["candidature"]
    ordering = ["candidature__numero", "jure__last_name"]
    date_hierarchy = "created_at"

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    @admin.display(description="motif")
    def motif_court(self, obj):
        return obj.motif if len(obj.motif) <= 120 else obj.motif[:119] + "…"

    @admin.display(description="enregistré le", ordering="created_at")
    def date(self, obj):
        return paris(obj.created_at)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["candidature", "jure", "motif"]
        return ["dossier_detail", "jure_display", "origine", "motif", "date"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["dossier_detail", "jure_display", "origine", "date"]
        if obj.origine == ConflitInteret.Origine.DECLARE:
            readonly.append("motif")
        return readonly

    @admin.display(description="dossier")
    def dossier_detail(self, obj):
        return f"{obj.candidature.numero} — {obj.candidature.collectivite.nom}"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.origine == ConflitInteret.Origine.DECLARE:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "candidature":
            kwargs["queryset"] = Candidature.objects.deposees()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            # Recorded by staff on the juror's word (a phone call, an e-mail): a recusal.
            obj.origine = ConflitInteret.Origine.DECLARE
        super().save_model(request, obj, form, change)


# ---------------------------------------------------------------------------------------------
# Évaluations, read-only, with their history


class PriseEnCompteFilter(admin.SimpleListFilter):
    title = "prise en compte dans le classement"
    parameter_name = "prise_en_compte"

    def lookups(self, request, model_admin):
        return [
            ("oui", "Oui"),
            ("conflit", "Non : conflit d'intérêts"),
            ("brouillon", "Non : brouillon"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "oui":
            return queryset.filter(statut=Evaluation.Statut.SOUMISE, en_conflit=False)
        if self.value() == "conflit":
            return queryset.filter(en_conflit=True)
        if self.value() == "brouillon":
            return queryset.filter(statut=Evaluation.Statut.BROUILLON, en_conflit=False)
        return queryset


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Staff read évaluations (never change them: they are the jurors' own); the « Historique »
    page shows who changed what and when, before and after."""

    list_display = [
        "numero",
        "collectivite",
        "jure_display",
        "statut",
        "recommandation",
        "score",
        "prise_en_compte",
        "submitted_display",
    ]
    list_filter = [
        "candidature__appel",
        "statut",
        "recommandation",
        PriseEnCompteFilter,
        ("jure", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
    ]
    ordering = ["candidature__numero", "jure__last_name"]
    fields = [
        "dossier_detail",
        "jure_display",
        "statut",
        "recommandation",
        "score",
        "prise_en_compte",
        "notes_detail",
        "commentaire_prive",
        "retour_collectivite",
        "created_display",
        "updated_display",
        "submitted_display",
        "historique_notes",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        conflict = ConflitInteret.objects.filter(
            candidature=OuterRef("candidature"), jure=OuterRef("jure")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(en_conflit=Exists(conflict))
            .prefetch_related(
                Prefetch("notes", queryset=Note.objects.select_related("critere").order_by())
            )
        )

    def has_view_permission(self, request, obj=None):
        # Jurors may hold view_evaluation for their own pages; the full list is staff's only.
        return super().has_view_permission(request, obj) and request.user.has_perm(
            "candidatures.view_candidature"
        )

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="dossier")
    def dossier_detail(self, obj):
        return f"{obj.candidature.numero} — {obj.candidature.collectivite.nom}"

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    @admin.display(description="score pondéré (/20)")
    def score(self, obj):
        notes = list(obj.notes.all())
        value = ranking.evaluation_score(
            {note.critere_id: note.valeur for note in notes}, [note.critere for note in notes]
        )
        return EMPTY if value is None else f"{value:.2f}".replace(".", ",")

    @admin.display(description="prise en compte")
    def prise_en_compte(self, obj):
        if getattr(obj, "en_conflit", False):
            return "Non : conflit d'intérêts"
        if obj.statut != Evaluation.Statut.SOUMISE:
            return "Non : brouillon"
        return "Oui"

    @admin.display(description="soumise le", ordering="submitted_at")
    def submitted_display(self, obj):
        return paris(obj.submitted_at)

    @admin.display(description="créée le")
    def created_display(self, obj):
        return paris(obj.created_at)

    @admin.display(description="modifiée le")
    def updated_display(self, obj):
        return paris(obj.updated_at)

    @admin.display(description="notes")
    def notes_detail(self, obj):
        notes = sorted(obj.notes.all(), key=lambda note: note.critere.ordre)
        if not notes:
            return EMPTY
        return format_html(
            "<table><thead><tr><th>Critère</th><th>Note</th><th>Commentaire</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        note.critere.libelle,
                        EMPTY
                        if note.valeur is None
                        else f"{note.valeur} / {note.critere.note_max}",
                        note.commentaire or EMPTY,
                    )
                    for note in notes
                ),
            ),
        )

    @admin.display(description="historique des notes")
    def historique_notes(self, obj):
        records = list(
            Note.history.filter(evaluation_id=obj.pk)
            .select_related("history_user", "critere")
            .order_by("history_date", "history_id")
        )
        previous: dict[int, tuple | None] = defaultdict(lambda: None)
        kinds = {"+": "création", "~": "modification", "-": "suppression"}
        lines = []
        for record in records:
            before, now = previous[record.id], (record.valeur, record.commentaire)
            previous[record.id] = now
            # Every save of the form re-saves each note: keep the ones that changed something.
            if record.history_type == "~" and before == now:
                continue
            kind = kinds.get(record.history_type, record.history_type)
            if record.history_type == "~" and before and before[0] == now[0]:
                kind = "commentaire modifié"
            elif record.history_type == "~" and before and before[1] != now[1]:
                kind = "note et commentaire modifiés"
            # The comment's before/after only when it changed (or the note was created).
            comment_changed = before is None or before[1] != now[1]
            lines.append(
                (
                    paris(record.history_date),
                    person(record.history_user) if record.history_user_id else EMPTY,
                    record.critere.libelle,
                    kind,
                    EMPTY if before is None or before[0] is None else before[0],
                    EMPTY if record.valeur is None else record.valeur,
                    ((before[1] if before else "") or EMPTY) if comment_changed else "inchangé",
                    (record.commentaire or EMPTY) if comment_changed else "inchangé",
                )
            )
        if not lines:
            return EMPTY
        return format_html(
            "<table><thead><tr><th>Date</th><th>Par</th><th>Critère</th><th>Changement</th>"
            "<th>Note avant</th><th>Note après</th><th>Commentaire avant</th>"
            "<th>Commentaire après</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td>{}</td><td>{}</td></tr>",
                reversed(lines),
            ),
        )


@admin.register(RappelJury)
class RappelJuryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every reminder « Relancer » wrote, and its fate (sent by the worker, once)."""

    # The call is a filter: its long title made each row wrap.
    list_display = ["destinataire", "restants", "demande", "statut", "envoye", "erreur"]
    list_filter = ["statut", "appel"]
    list_select_related = ["appel"]
    search_fields = ["destinataire"]
    actions = None

    @admin.display(description="demandé le", ordering="created_at")
    def demande(self, obj):
        return paris(obj.created_at)

    @admin.display(description="envoyé le", ordering="envoye_at")
    def envoye(self, obj):
        return paris(obj.envoye_at)
