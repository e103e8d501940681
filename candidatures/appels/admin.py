"""Admin of the calls' building blocks: the criteria grid (Critère and its levels) and the
official list of collectivités. The call's own admin (AppelAdmin) is composed in
candidatures/admin.py from the sub-packages' parts.
"""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet

from cerdd_ami.admin import ReadOnlyAdminMixin

from .models import Appel, Collectivite, Critere, NiveauCritere, search_key

# Départements of the région (and 76, where the two interregional EPCI sit).
DEPARTEMENTS = {
    "02": "Aisne",
    "59": "Nord",
    "60": "Oise",
    "62": "Pas-de-Calais",
    "76": "Seine-Maritime",
    "80": "Somme",
}


class DepartementFilter(admin.SimpleListFilter):
    title = "département"
    parameter_name = "departement"
    field_path = "departement"

    def lookups(self, request, model_admin):
        return [(code, f"{code} — {name}") for code, name in DEPARTEMENTS.items()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


class CritereInline(admin.TabularInline):
    model = Critere
    fields = ["ordre", "libelle", "poids", "note_max"]
    show_change_link = True
    verbose_name = "critère de sélection"
    verbose_name_plural = (
        "critères de sélection (les niveaux de notation se décrivent sur la fiche du critère)"
    )

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj is not None and obj.pk and obj.criteres.exists() else 1


class AppelAdminBase(admin.ModelAdmin):
    """The call's own admin: its texts, dates, contacts, capacity and criteria grid.

    Not registered here: candidatures/admin.py composes AppelAdmin from this base and the
    sub-packages' mixins (dossier counts, jury, decisions), each extending the lists through
    the ``get_*`` hooks and ``super()``, and registers it once.
    """

    list_display = ["titre", "programme", "etat_label", "opens_at", "closes_at"]
    search_fields = ["titre", "slug"]
    readonly_fields = ["decisions_published_at", "dernier_numero"]
    inlines = [CritereInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "titre",
                    "programme",
                    "slug",
                    "prefixe_numero",
                    "dernier_numero",
                    "est_publie",
                ]
            },
        ),
        (
            "Textes de la page publique",
            {
                "fields": [
                    "accroche",
                    "presentation",
                    "objectifs",
                    "cycle",
                    # No « calendrier » text: the public calendar derives from the dates below.
                    "bonnes_raisons",
                    "criteres_texte",
                    "attentes",
                ]
            },
        ),
        (
            "Calendrier",
            {
                "description": "Toutes les dates et heures sont en heure de Paris.",
                "fields": [
                    "opens_at",
                    "closes_at",
                    "announcement_at",
                    "first_session_date",
                    "first_session_place",
                    "decisions_published_at",
                ],
            },
        ),
        (
            "Contacts et signataire",
            {
                "fields": [
                    "contact_nom",
                    "contact_fonction",
                    "contact_email",
                    "signataire_nom",
                    "signataire_fonction",
                    "signataire_email",
                    "entete_courrier",
                    "lieu_courrier",
                    "signature",
                ]
            },
        ),
        (
            "Capacité et règles",
            {
                "fields": [
                    "places",
                    "epci_interregionaux_eligibles",
                    "taille_max_fichier_mo",
                    "taille_max_dossier_mo",
                ]
            },
        ),
    ]

    @admin.display(description="état")
    def etat_label(self, obj):
        return Appel.Etat(obj.etat()).label


class NiveauCritereFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        note_max = self.instance.note_max
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            note = form.cleaned_data.get("note")
            if note is not None and note > note_max:
                form.add_error(
                    "note",
                    f"La note ne peut pas dépasser la note maximale du critère ({note_max}).",
                )


class NiveauCritereInline(admin.TabularInline):
    """One row per score level, from 0 to the critère's maximum score."""

    model = NiveauCritere
    formset = NiveauCritereFormSet
    fields = ["note", "description"]
    verbose_name_plural = "niveaux de notation (ce que signifie chaque note pour le jury)"

    @staticmethod
    def missing_notes(obj) -> list[int]:
        note_max = obj.note_max if obj is not None else Critere._meta.get_field("note_max").default
        existing = set(obj.niveaux.values_list("note", flat=True)) if obj and obj.pk else set()
        return [note for note in range(note_max + 1) if note not in existing]

    def get_extra(self, request, obj=None, **kwargs):
        if critere_is_scored(obj):
            return 0
        return len(self.missing_notes(obj))

    def get_readonly_fields(self, request, obj=None):
        # A level's score is what jurors read beside their input: once notes exist, only its
        # wording may change.
        return ["note"] if critere_is_scored(obj) else []

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not critere_is_scored(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not critere_is_scored(obj)


def critere_is_scored(critere) -> bool:
    """Whether a juror has already scored (or commented) this critère."""
    return bool(critere is not None and critere.pk and critere.notes.exists())


CRITERE_SCORED = (
    "Des juré·es ont déjà noté ce critère : son appel, sa note maximale et les notes de ses "
    "niveaux ne peuvent plus changer, et il ne peut plus être supprimé, sans quoi les notes "
    "déjà données changeraient de sens ou sortiraient du barème. Le libellé, la description, "
    "l'ordre, le poids et le texte des niveaux restent modifiables."
)


@admin.register(Critere)
class CritereAdmin(admin.ModelAdmin):
    list_display = ["libelle", "appel", "ordre", "poids", "note_max"]
    list_filter = ["appel"]
    list_select_related = ["appel"]
    search_fields = ["libelle"]
    fields = ["appel", "ordre", "libelle", "description", "poids", "note_max"]
    inlines = [NiveauCritereInline]

    def get_readonly_fields(self, request, obj=None):
        if critere_is_scored(obj):
            return ["appel", "note_max"]
        return []

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if critere_is_scored(obj):
            name, options = fieldsets[0]
            fieldsets = [(name, {**options, "description": CRITERE_SCORED}), *fieldsets[1:]]
        return fieldsets

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not critere_is_scored(obj)

    def get_deleted_objects(self, objs, request):
        # The list's « supprimer » action asks for no object: refuse the scored ones here.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        scored = [critere for critere in objs if critere_is_scored(critere)]
        if scored:
            protected = list(protected) + [
                f"{critere} (critère déjà noté par le jury : il ne peut plus être supprimé)"
                for critere in scored
            ]
        return deleted, counts, perms_needed, protected

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if (
            isinstance(inline, NiveauCritereInline)
            and request.method != "POST"
            and not critere_is_scored(obj)
        ):
            # Blank rows come pre-numbered with the missing score levels.
            kwargs["initial"] = [{"note": note} for note in inline.missing_notes(obj)]
        return kwargs


# ---------------------------------------------------------------------------------------------
# Collectivités: the official list, read-only (the import overwrites every field)


@admin.register(Collectivite)
class CollectiviteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The list comes from the official data set: the next import would undo any edit.
    keeps_list_actions = True
    list_display = [
        "nom",
        "nature",
        "insee",
        "siren",
        "departement",
        "type_epci",
        "population",
        "epci",
        "interregional",
        "active",
    ]
    list_filter = ["nature", DepartementFilter, "type_epci", "interregional", "active"]
    # Codes are matched from their start: « 62041 » must not find SIREN 2162041xx.
    search_fields = ["nom", "^insee", "^siren", "codes_postaux"]
    list_select_related = ["epci"]
    fields = [
        "nature",
        "nom",
        "siren",
        "insee",
        "type_epci",
        "departement",
        "population",
        "codes_postaux",
        "epci",
        "interregional",
        "active",
    ]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Also match names typed without accents or hyphens (« saint omer » → Saint-Omer).
        key = search_key(search_term)
        if key and not key.isdigit():
            by_name = queryset
            for word in key.split():
                by_name = by_name.filter(nom_recherche__contains=word)
            results = results | by_name
        return results, may_have_duplicates
