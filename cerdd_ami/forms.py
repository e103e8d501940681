"""Bootstrap 5 rendering of forms with Django's own form templates, without crispy-forms.

The application journey's step forms are the busiest pages of the site (a few hundred
collectivités, each saving every step several times). crispy-forms' nested layout templates
cost about two thirds of such a page's CPU (docs/performance.md); Django's field templates give
the same Bootstrap markup at a third of the cost. Less busy forms keep crispy's FormHelper.
"""

from pathlib import Path

from django import forms
from django.conf import settings
from django.forms.renderers import Jinja2
from django.template.backends.jinja2 import Jinja2 as Jinja2Backend
from django.utils.functional import cached_property

# Most specific first: CheckboxSelectMultiple is a RadioSelect.
WIDGET_CSS_CLASSES = [
    (forms.CheckboxInput, "form-check-input"),
    (forms.RadioSelect, "form-check-input"),
    (forms.Select, "form-select"),
    (forms.Widget, "form-control"),
]


class BootstrapBoundField(forms.BoundField):
    """Adds Bootstrap's widget classes, and ``is-invalid`` once the field has an error."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if widget.is_hidden:
            return attrs
        bootstrap_class = next(css for kind, css in WIDGET_CSS_CLASSES if isinstance(widget, kind))
        css = [widget.attrs.get("class", ""), bootstrap_class]
        if self.errors:
            css.append("is-invalid")
        attrs["class"] = " ".join(name for name in css if name)
        return attrs


class BootstrapFormRenderer(Jinja2):
    """Django's Jinja2 form renderer with our Bootstrap templates (templates/jinja2/forms/).

    Jinja2 renders a step page's fields and widgets several times faster than Django's
    template language (docs/performance.md); the markup is the same as Django's own widgets.
    """

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
    bound_field_class = BootstrapBoundField

    @cached_property
    def engine(self):
        return Jinja2Backend(
            {
                "APP_DIRS": False,
                "DIRS": [
                    settings.BASE_DIR / "templates" / "jinja2",
                    Path(forms.__file__).parent / "jinja2",
                ],
                "NAME": "bootstrapforms",
                "OPTIONS": {},
            }
        )


# One instance for every form: its Jinja2 environment keeps the compiled templates.
BOOTSTRAP_RENDERER = BootstrapFormRenderer()


class BootstrapRadioSelect(forms.RadioSelect):
    template_name = "forms/widgets/radio.html"


class BootstrapCheckboxSelectMultiple(forms.CheckboxSelectMultiple):
    """Boxes in Bootstrap's ``form-check`` wrappers (the radio template renders either type):
    without them, a box is drawn outside its line, under the next field's label."""

    template_name = "forms/widgets/radio.html"


class FieldsetsFormMixin:
    """Renders the fields grouped as ``fieldsets``: (legend, intro text or "", field names).

    Without ``fieldsets`` every visible field is rendered in order, ungrouped.
    """

    default_renderer = BOOTSTRAP_RENDERER
    fieldsets: list[tuple[str, str, list[str]]] = []

    def get_context(self):
        context = super().get_context()
        if self.fieldsets:
            context["fieldsets"] = [
                (legend, intro, [self[name] for name in names])
                for legend, intro, names in self.fieldsets
            ]
        return context
