import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    # --check exits non-zero (SystemExit) when a migration is missing.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.django_db
def test_role_groups_exist_after_migrations():
    assert sorted(Group.objects.values_list("name", flat=True)) == [
        "Chargé·e de mission",
        "Direction",
        "Jury",
    ]
