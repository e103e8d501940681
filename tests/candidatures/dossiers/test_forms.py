"""Bad input never crashes a step and never changes what was saved (property-based)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidatures.dossiers.forms import CoordonneesForm, ProjetForm
from candidatures.models import Candidature
from tests.candidatures.factories import AppelFactory, CandidatureFactory

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def dossier():
    return CandidatureFactory(appel=AppelFactory(), motivations="Texte déjà enregistré.")


@PROPERTY
@given(text=st.text(max_size=300))
def test_projet_step_stores_any_text_exactly_or_says_why(dossier, text):
    # Hypothesis reuses the fixture across examples: start each from the saved state.
    Candidature.objects.filter(pk=dossier.pk).update(motivations="Texte déjà enregistré.")
    form = ProjetForm({"motivations": text}, instance=Candidature.objects.get(pk=dossier.pk))

    if form.is_valid():
        form.save()
        assert (
            Candidature.objects.get(pk=dossier.pk).motivations == form.cleaned_data["motivations"]
        )
    else:
        assert form.errors["motivations"] == ["Le caractère nul n’est pas autorisé."]
        assert Candidature.objects.get(pk=dossier.pk).motivations == "Texte déjà enregistré."


def test_projet_step_refuses_text_over_the_limit_in_french(dossier):
    form = ProjetForm({"motivations": "x" * 5001}, instance=dossier)

    assert form.errors["motivations"] == [
        "Assurez-vous que cette valeur comporte au plus 5000 caractères (actuellement 5001)."
    ]


@PROPERTY
@given(phone=st.text(alphabet="0123456789 .+-", max_size=20))
def test_phone_is_accepted_only_as_a_french_number(phone):
    form = CoordonneesForm({"telephone": phone})
    digits = phone.replace(" ", "").replace(".", "").replace("-", "")
    looks_french = (digits.startswith("0") and len(digits) == 10 and digits[1] != "0") or (
        digits.startswith("+33") and len(digits) == 12 and digits[3] != "0"
    )

    if form.is_valid():
        # Blank is allowed while drafting; completeness is checked on submission.
        assert looks_french or phone.strip() == ""
        assert form.cleaned_data["telephone"] == phone.strip()
    else:
        assert form.errors["telephone"] == [
            "Saisissez un numéro de téléphone français à 10 chiffres, par exemple 03 21 00 00 00."
        ]
