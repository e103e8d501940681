import shutil

import pytest

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Drive Debian's chromium: Playwright's own browser download cannot work here."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium est introuvable : lancez `make test`, qui l'installe (apt).")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "fr-FR", "timezone_id": "Europe/Paris"}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEV_OUTBOX_DIR = tmp_path / "mail"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs a third of a second per user created; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def page(page, request):
    """Every browser test fails on a console error or a 5xx the page saw.

    A CSP violation, a missing asset or a JavaScript error shows in the console; a server
    error may hide behind a page that still renders. A test that provokes an error on purpose
    (a 404 it asserts) lists the expected messages with ``@pytest.mark.console_allow("…")``.
    """
    allowed = [text for mark in request.node.iter_markers("console_allow") for text in mark.args]
    problems: list[str] = []

    def on_console(message):
        if message.type == "error" and not any(text in message.text for text in allowed):
            problems.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_response(response):
        if response.status >= 500:
            problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"JavaScript: {error}"))
    page.on("response", on_response)
    yield page
    assert problems == [], "La page a signalé des erreurs :\n" + "\n".join(problems)


@pytest.fixture
def database_queue(settings):
    """Tasks go to the PostgreSQL queue (as in production) instead of running on commit.

    No periodic task unless the test sets ``settings.PERIODIC_TASKS``: a test's worker runs
    what the test enqueued, and nothing else.
    """
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.PERIODIC_TASKS = {}


def run_worker(**options) -> None:
    """Run the production worker in this process until no task is due (``--batch``).

    The worker closes « old » connections between tasks, and inside a test's transaction every
    connection looks old: Django's test client disconnects the same check for requests.
    """
    from unittest import mock

    from cerdd_ami.tasks.worker import Worker

    worker = Worker(
        queue_names=["default"],
        excluded_queue_names=[],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=options.get("worker_id", "tests"),
    )
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        worker.run()
