"""Staff admin of the decision letters' texts: one ``ModeleCourrier`` per call and outcome.

The text is checked when saved (syntax, unknown variables:
``letter_templates.validate_letter_template``) and can be previewed as a PDF on a real
submitted dossier before anything is published.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from candidatures.appels.models import Appel
from candidatures.decisions import letter_templates, letters
from candidatures.dossiers.models import Candidature
from cerdd_ami.pdf import pdf_response

from .models import Decision, Issue, ModeleCourrier

# What an unsaved preview decision says where the real one will have staff's words.
PREVIEW_MOTIVATION = "[Motivation de la décision : elle sera saisie avec la décision.]"
PREVIEW_RETOUR_JURY = "[Retour du jury cité dans le courrier, s'il y en a un.]"


def placeholders_help() -> str:
    """The list of placeholders shown under the letter's text."""
    items = format_html_join(
        "",
        "<li><code>{{{{ {} }}}}</code> : {}</li>",
        ((name, description) for name, description in letter_templates.PLACEHOLDERS),
    )
    return format_html(
        "Texte simple : une ligne vide sépare deux paragraphes ; les espaces insécables "
        "(avant « : », « ? », dans les guillemets…) sont ajoutées à l'impression. "
        "Conditions possibles, par exemple <code>{{% if retour_jury %}}…{{% endif %}}</code>. "
        "Variables :<ul>{}</ul>",
        items,
    )


class ModeleCourrierForm(forms.ModelForm):
    class Meta:
        model = ModeleCourrier
        fields = ["appel", "issue", "objet", "corps"]
        widgets = {
            "objet": forms.TextInput(attrs={"size": 100}),
            "corps": forms.Textarea(attrs={"rows": 28, "cols": 100}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["corps"].help_text = placeholders_help()
        self.fields["objet"].help_text = "Les mêmes variables sont possibles dans l'objet."

    def clean_objet(self):
        objet = self.cleaned_data["objet"]
        letter_templates.validate_letter_template(objet)
        return objet

    def clean_corps(self):
        corps = self.cleaned_data["corps"]
        letter_templates.validate_letter_template(corps)
        return corps


@admin.register(ModeleCourrier)
class ModeleCourrierAdmin(admin.ModelAdmin):
    form = ModeleCourrierForm
    list_display = ["appel", "issue", "objet", "previsualiser_lien"]
    list_filter = ["appel", "issue"]
    list_select_related = ["appel"]
    search_fields = ["objet", "corps"]
    change_form_template = "admin/candidatures/modelecourrier/change_form.html"

    def get_changeform_initial_data(self, request):
        # A new text starts from the seed text of the outcome picked in the URL (?issue=…).
        initial = super().get_changeform_initial_data(request)
        issue = initial.get("issue")
        if issue in letter_templates.SEED_TEXTS:
            # ?appel=… too: another programme's call starts from letters naming it.
            appel_pk = str(initial.get("appel") or "")
            appel = Appel.objects.filter(pk=appel_pk).first() if appel_pk.isdigit() else None
            objet, corps = letter_templates.seed_text(issue, appel)
            initial.setdefault("objet", objet)
            initial.setdefault("corps", corps)
        return initial

    @admin.display(description="aperçu")
    def previsualiser_lien(self, obj):
        url = reverse("admin:candidatures_modelecourrier_previsualiser", args=[obj.pk])
        return format_html('<a href="{}">Prévisualiser sur un dossier</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:pk>/previsualiser/",
                self.admin_site.admin_view(self.previsualiser_view),
                name="candidatures_modelecourrier_previsualiser",
            ),
            *super().get_urls(),
        ]

    def previsualiser_view(self, request, pk):
        """Pick a submitted dossier of the call; get this text's letter for it, as a PDF."""
        modele = get_object_or_404(ModeleCourrier.objects.select_related("appel"), pk=pk)
        if not (
            self.has_view_permission(request, modele)
            and request.user.has_perm("candidatures.view_candidature")
        ):
            raise PermissionDenied
        dossiers = (
            Candidature.objects.filter(appel=modele.appel)
            .deposees()
            .select_related("appel", "collectivite", "decision")
            .order_by("numero")
        )
        choice = request.GET.get("candidature")
        if choice:
            try:
                dossier = dossiers.get(pk=int(choice))
            except (ValueError, Candidature.DoesNotExist):
                raise Http404("Ce dossier n'est pas un dossier déposé de cet appel.") from None
            decision = preview_decision(dossier, modele.issue)
            pdf = letters.render_letter_pdf(decision)
            filename = f"apercu-{letters.letter_filename(decision)}"
            return pdf_response(pdf, filename, inline=True)
        if not dossiers:
            messages.warning(request, "Aucun dossier déposé pour cet appel : rien à prévisualiser.")
        context = {
            **self.admin_site.each_context(request),
            "title": "Prévisualiser sur un dossier",
            "subtitle": str(modele),
            "opts": self.opts,
            "original": modele,
            "modele": modele,
            "dossiers": dossiers,
            "has_view_permission": True,
        }
        return TemplateResponse(
            request, "admin/candidatures/modelecourrier/previsualiser.html", context
        )


def preview_decision(candidature, issue: str) -> Decision:
    """The dossier's own decision when it has this outcome, else an unsaved stand-in."""
    existing = getattr(candidature, "decision", None) if candidature.pk else None
    if existing is not None and existing.issue == issue:
        return existing
    return Decision(
        candidature=candidature,
        issue=issue,
        motivation=PREVIEW_MOTIVATION,
        retour_jury=PREVIEW_RETOUR_JURY,
        rang_attente=1 if issue == Issue.LISTE_ATTENTE else None,
    )
