"""The project's Bootstrap form rendering (cerdd_ami/forms.py), used by the step forms."""

from django import forms

from cerdd_ami.forms import BootstrapRadioSelect, FieldsetsFormMixin


class SampleForm(FieldsetsFormMixin, forms.Form):
    fieldsets = [
        ("Référent·e", "Qui suit le dossier.", ["nom", "email"]),
        ("Engagements", "", ["engagement", "nature", "commune"]),
    ]

    nom = forms.CharField(label="Nom", help_text="Prénom et nom.")
    email = forms.EmailField(label="E-mail", required=False)
    engagement = forms.BooleanField(label="Je m'engage", required=False)
    nature = forms.ChoiceField(
        label="Type", choices=[("a", "Lettre"), ("b", "Annexe")], widget=BootstrapRadioSelect
    )
    commune = forms.ChoiceField(label="Commune", choices=[("1", "Arras")], required=False)
    jeton = forms.CharField(widget=forms.HiddenInput, required=False)


def test_fieldsets_render_in_order_with_legend_and_intro():
    html = str(SampleForm())

    assert html.count('<legend class="h5">') == 2
    # The radio buttons are a group of their own, inside the second fieldset.
    assert '<legend class="form-label fs-6">Type' in html
    assert html.index('<legend class="h5">Référent·e</legend>') < html.index('name="nom"')
    assert html.index('name="email"') < html.index('<legend class="h5">Engagements</legend>')
    assert '<p class="form-text">Qui suit le dossier.</p>' in html
    assert '<input type="hidden" name="jeton" id="id_jeton">' in html


def test_widgets_get_bootstrap_classes_by_kind():
    form = SampleForm()

    assert 'class="form-control" id="id_nom"' in str(form["nom"])
    assert 'class="form-check-input" id="id_engagement"' in str(form["engagement"])
    assert 'class="form-select" id="id_commune"' in str(form["commune"])
    radios = str(form["nature"])
    assert radios.count('class="form-check-input"') == 2
    assert '<label for="id_nature_1" class="form-check-label">Annexe</label>' in radios
    assert 'class="form-control"' not in radios


def test_label_and_help_text_are_tied_to_the_input():
    group = SampleForm()["nom"].as_field_group()

    assert '<label for="id_nom" class="form-label">Nom' in group
    assert 'aria-describedby="id_nom_helptext"' in group
    assert '<div id="id_nom_helptext" class="form-text">Prénom et nom.</div>' in group


def test_errors_are_shown_beside_the_field_and_announced():
    form = SampleForm(data={"nom": "", "email": "pas-une-adresse", "nature": "z"})
    assert not form.is_valid()

    email = form["email"].as_field_group()
    assert 'class="form-control is-invalid"' in email
    assert 'aria-invalid="true"' in email
    assert 'aria-describedby="id_email_error"' in email
    assert '<div id="id_email_error" class="invalid-feedback d-block">' in email
    assert "Saisissez une adresse de courriel valide." in email
    nature = form["nature"].as_field_group()
    assert '<fieldset class="mb-3" aria-describedby="id_nature_error">' in nature
    assert nature.count('class="form-check-input is-invalid"') == 2
    assert '<div id="id_nom_error" class="invalid-feedback d-block">' in str(form)


def test_a_valid_field_has_no_error_markup():
    form = SampleForm(data={"nom": "Camille Martin", "nature": "a"})
    assert form.is_valid()

    html = str(form)
    assert "is-invalid" not in html
    assert "invalid-feedback" not in html
    assert 'value="Camille Martin"' in html
