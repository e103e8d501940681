import dataclasses
import importlib
import shutil

import pytest
from django.test.utils import override_settings
from django.urls import clear_url_caches

FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, migrated; its rows at that moment are kept for ``demo_snapshot``.

    Also: Django keeps the serialized initial rows on the connection object
    (``_test_serialized_contents``) to reload them before each ``serialized_rollback`` test.
    Once Playwright has started, tests run in another context, where ``connections`` hands out
    new connection objects without that attribute: Django then silently skipped the reload,
    and a browser test after a flushing one found no collectivité. A class attribute is seen
    from every connection object.
    """
    from django.db import connections

    from tests import demo_snapshot

    for connection in connections.all(initialized_only=True):
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents is not None:
            type(connection)._test_serialized_contents = contents
    with django_db_blocker.unblock():
        return demo_snapshot.dump()


@pytest.fixture(scope="session")
def demo_snapshot(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo, seeded once per run from a freshly migrated database (under xdist, by the
    first worker that needs it; the others wait and read it: every worker's database went
    through the same migrations); ``tests.demo_snapshot.restore(demo_snapshot)`` loads it for
    one test (see there)."""
    from tests import demo_snapshot

    def take():
        # As in every test (``_fast_password_hashing``): the demo's passwords are checked there.
        with (
            django_db_blocker.unblock(),
            override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS),
        ):
            return demo_snapshot.take(
                pristine=django_db_setup, media=tmp_path_factory.mktemp("demo") / "media"
            )

    if not hasattr(request.config, "workerinput"):  # no xdist worker: this process alone
        return take()
    # The run's own base directory, shared by its workers (gw0, gw1… are its subdirectories).
    return demo_snapshot.shared(tmp_path_factory.getbasetemp().parent / "demo.pickle", take)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEV_OUTBOX_DIR = tmp_path / "mail"


@dataclasses.dataclass
class S3Bucket:
    """The bucket of moto's S3 server, read back with boto3 as an operator would."""

    endpoint_url: str
    environ: dict
    client: object

    @property
    def name(self) -> str:
        return self.environ["S3_BUCKET"]

    def objects(self) -> dict[str, bytes]:
        """Every object of the bucket: key -> bytes."""
        listing = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {
            item["Key"]: self.client.get_object(Bucket=self.name, Key=item["Key"])["Body"].read()
            for item in listing
        }

    def empty(self) -> None:
        for key in self.objects():
            self.client.delete_object(Bucket=self.name, Key=key)


@pytest.fixture(scope="session")
def s3_server():
    """moto's standalone S3-compatible server on 127.0.0.1 (a free port), with one private
    bucket, for the whole run: an HTTP server the storage talks to as it would to a provider's.
    """
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    # One line per request would bury a failing test's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    environ = {
        "S3_BUCKET": "cerdd-ami-tests",
        "S3_ENDPOINT_URL": f"http://{host}:{port}",
        "S3_ACCESS_KEY_ID": "cerdd-tests",
        "S3_SECRET_ACCESS_KEY": "cerdd-tests-secret",
        "S3_REGION": "eu-west-3",
    }
    client = boto3.client(
        "s3",
        endpoint_url=environ["S3_ENDPOINT_URL"],
        aws_access_key_id=environ["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=environ["S3_SECRET_ACCESS_KEY"],
        region_name=environ["S3_REGION"],
    )
    client.create_bucket(
        Bucket=environ["S3_BUCKET"],
        CreateBucketConfiguration={"LocationConstraint": environ["S3_REGION"]},
    )
    yield S3Bucket(endpoint_url=environ["S3_ENDPOINT_URL"], environ=environ, client=client)
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_server):
    """Uploaded and generated files go to moto's S3 bucket, configured by the very function
    the settings use for the production variables (S3_BUCKET, S3_ENDPOINT_URL...). The bucket
    is empty at the start and at the end of the test."""
    from cerdd_ami.settings import s3_storage as configured

    s3_server.empty()
    settings.STORAGES = {**settings.STORAGES, "default": configured(s3_server.environ)}
    yield s3_server
    s3_server.empty()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs a third of a second per user created; tests create hundreds.
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def _reload_urlconf(settings):
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


@pytest.fixture
def load_urlconf(settings):
    """``load_urlconf(debug=True)``: DEBUG set and the URLconf loaded again, as a process started
    with that DEBUG loads it (the development outbox's URLs exist only with DEBUG on). The
    URLconf is loaded back as it was after the test."""
    original = settings.DEBUG

    def load(*, debug):
        settings.DEBUG = debug
        _reload_urlconf(settings)

    yield load
    settings.DEBUG = original
    _reload_urlconf(settings)


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
