"""Bad input never crashes a step and never changes what was saved (property-based)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidatures.dossiers.forms import CoordonneesForm

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


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
