"""Settings come from the environment; production values pass `check --deploy` silently."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "p7Vq9zK2mX4wR8tY1uB6nJ3hG5fD0sA9lE2cQ7vZ4xW8yT1rU6iO3pM5kN0bH2g",
    "ALLOWED_HOSTS": "ami.cerdd.org",
    "CSRF_TRUSTED_ORIGINS": "https://ami.cerdd.org",
    "SITE_URL": "https://ami.cerdd.org",
    "DATABASE_URL": "postgres://cerdd:secret@db.internal:5432/cerdd_ami",
    "EMAIL_HOST": "smtp.cerdd.org",
}


# Set by pyproject.toml for the test run; a production process has none of them.
TEST_ONLY_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "STATIC_MANIFEST",
    "EMAIL_HOST",
    "DATABASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run_manage(*args, env_overrides):
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_VARIABLES}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_with_production_variables_prints_no_warning():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "peut-être"),
        ("EMAIL_PORT", "vingt-cinq"),
        ("SITE_URL", "ami.cerdd.org"),
        ("CSRF_TRUSTED_ORIGINS", "ami.cerdd.org"),
        ("DATABASE_URL", "mysql://cerdd@localhost/cerdd"),
        ("LETTERS_PER_REQUEST", "cent"),
        ("LETTERS_PER_REQUEST", "0"),
    ],
)
def test_settings_bad_value_stops_startup_naming_the_variable(variable, value):
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, variable: value})

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert variable in last_line


def test_settings_production_without_secret_key_refuses_to_start():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}

    result = run_manage("check", env_overrides=env)

    assert result.returncode == 1
    assert "SECRET_KEY doit être défini" in result.stderr


def test_settings_nothing_set_means_debug_off():
    env = {
        "SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"],
        "DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"],
    }

    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.SECURE_SSL_REDIRECT)",
        env_overrides=env,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True"


def test_makemigrations_runs_in_a_checkout_without_configuration():
    result = run_manage("makemigrations", "--check", "--dry-run", env_overrides={})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No changes detected"


def test_other_commands_without_configuration_still_refuse_to_start():
    result = run_manage("check", env_overrides={})

    assert result.returncode == 1
    assert "SECRET_KEY doit être défini" in result.stderr
