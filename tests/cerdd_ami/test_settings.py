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


# --- Files on S3-compatible object storage ------------------------------------------------------

S3_ENV = {
    "S3_BUCKET": "cerdd-ami-media",
    "S3_ENDPOINT_URL": "https://s3.fr-par.example.net",
    "S3_REGION": "fr-par",
    "S3_ACCESS_KEY_ID": "SCWEXAMPLEKEY",
    "S3_SECRET_ACCESS_KEY": "example-secret",
}


def test_check_deploy_with_s3_storage_prints_no_warning_and_selects_the_bucket():
    env = {**PRODUCTION_ENV, **S3_ENV}

    check = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=env)
    shown = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.core.files.storage import storages; s = storages['default']; "
        "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.region_name, "
        "s.default_acl, s.querystring_auth, s.querystring_expire, s.file_overwrite)",
        env_overrides=env,
    )

    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "System check identified no issues (0 silenced)."
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [
        "S3Storage",
        "cerdd-ami-media",
        "https://s3.fr-par.example.net",
        "fr-par",
        "None",
        "True",
        "60",
        "False",
    ]


def test_settings_without_s3_bucket_keep_files_on_the_local_disk():
    from cerdd_ami.settings import s3_storage

    assert s3_storage({}) is None
    assert s3_storage({"S3_BUCKET": "  "}) is None


def test_settings_s3_on_amazon_needs_only_the_region_besides_the_keys():
    from cerdd_ami.settings import s3_storage

    env = {k: v for k, v in S3_ENV.items() if k != "S3_ENDPOINT_URL"} | {"S3_REGION": "eu-west-3"}

    options = s3_storage(env)["OPTIONS"]

    assert (options["endpoint_url"], options["region_name"]) == (None, "eu-west-3")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"S3_SECRET_ACCESS_KEY": ""},
            "S3_BUCKET='cerdd-ami-media' mais S3_SECRET_ACCESS_KEY est vide : les deux clés "
            "d'accès au bucket sont requises.",
        ),
        (
            {"S3_ACCESS_KEY_ID": None},
            "S3_BUCKET='cerdd-ami-media' mais S3_ACCESS_KEY_ID est vide : les deux clés "
            "d'accès au bucket sont requises.",
        ),
        (
            {"S3_ENDPOINT_URL": "s3.fr-par.example.net"},
            "S3_ENDPOINT_URL='s3.fr-par.example.net' : URL attendue (https://s3.example.net).",
        ),
        (
            {"S3_ENDPOINT_URL": "http://s3.fr-par.example.net"},
            "S3_ENDPOINT_URL='http://s3.fr-par.example.net' : https:// attendu (les dossiers et "
            "les clés ne circulent pas en clair ; http:// seulement sur 127.0.0.1).",
        ),
        (
            {"S3_ENDPOINT_URL": None, "S3_REGION": None},
            "S3_BUCKET sans S3_ENDPOINT_URL (Amazon S3) : S3_REGION est requis (eu-west-3).",
        ),
        (
            {"S3_BUCKET": None},
            "S3_ENDPOINT_URL, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION défini sans "
            "S3_BUCKET : définissez le bucket, ou retirez ces variables pour garder les fichiers "
            "dans MEDIA_ROOT.",
        ),
    ],
)
def test_settings_half_configured_s3_stops_startup_saying_what_is_wrong(changes, message):
    from django.core.exceptions import ImproperlyConfigured

    from cerdd_ami.settings import s3_storage

    env = {**S3_ENV, **changes}
    env = {key: value for key, value in env.items() if value is not None}

    with pytest.raises(ImproperlyConfigured) as error:
        s3_storage(env)

    assert str(error.value) == message


def test_settings_s3_key_without_bucket_refuses_to_start():
    result = run_manage(
        "check", env_overrides={**PRODUCTION_ENV, "S3_ACCESS_KEY_ID": "SCWEXAMPLEKEY"}
    )

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == (
        "django.core.exceptions.ImproperlyConfigured: S3_ACCESS_KEY_ID défini sans S3_BUCKET : "
        "définissez le bucket, ou retirez ces variables pour garder les fichiers dans MEDIA_ROOT."
    )
