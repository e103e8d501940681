"""Benchmark of the application journey: N applicants apply at the same time, over real HTTP.

Each applicant is a thread with its own cookie jar that does what a browser does: asks for a
sign-in link, follows it from the development outbox, picks its commune, fills in the five
steps (a real PDF as motivation letter) and submits. The server is gunicorn as configured in
gunicorn.conf.py, in front of PostgreSQL, both on this machine only.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_apply.py                     # 200 applicants, 20 at a time
    .venv/bin/python scripts/bench_apply.py --applicants 50 --concurrency 10

What it does:

1. Creates a throw-away database ``bench_apply`` (on the embedded PostgreSQL, or on
   DATABASE_URL's server when set), migrates it and opens a call with
   ``candidatures.appels.seed.ensure_appel_ouvert()``. Demo data is never touched.
2. Starts ``gunicorn -c gunicorn.conf.py --workers 4 --threads 2`` on 127.0.0.1 with DEBUG=1,
   so that e-mails land as .eml files in a temporary outbox the applicants read their links
   from, and one task worker (``manage.py worker``, the PostgreSQL queue) beside it, which
   renders and mails the receipts.
3. Hits ``/healthz`` as a baseline (a trivial view, one database round trip) with the same
   concurrency and as many requests as the form pages; then runs the journey in three phases
   (sign-in, form pages, submission), so that the form pages' throughput is measured on its own;
   then waits for the worker to deliver every receipt.
4. Measures the server CPU per request of each page type, one type at a time: ``GET
   /connexion/`` (same layout, session and CSRF), the five step pages and the dossier page.
5. Prints throughput and latency percentiles and the targets of issue 15 (deposit and next
   page p95, receipts delivered after the last deposit, CPU ratios), then checks in the
   database that every dossier is submitted exactly once with its own number.

It is a benchmark, not a test: it stops by itself (bounded number of requests, time budget),
cleans up (gunicorn stopped, database dropped, temporary files removed unless something failed)
and exits 1 when any request failed or the database check finds a lost or duplicated dossier.
Only the standard library and the project's own dependencies are used (no ``requests``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import URLError
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from urllib.request import (
    HTTPCookieProcessor,
    HTTPErrorProcessor,
    OpenerDirector,
    ProxyHandler,
    Request,
    build_opener,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
BENCH_DB = "bench_apply"
HOST = "127.0.0.1"  # the only address this benchmark ever talks to
LOCAL_DB_HOSTS = {"127.0.0.1", "localhost", "::1"}
GUNICORN_WORKERS = 4
GUNICORN_THREADS = 2
# Targets (issue 15): milliseconds, seconds, CPU ratios against GET /connexion/.
DEPOSIT_P95_TARGET_MS = 300
AFTER_DEPOSIT_P95_TARGET_MS = 300
RECEIPTS_TARGET_S = 60
STEP_CPU_RATIO_TARGET = 2.5
DOSSIER_CPU_RATIO_TARGET = 3.0
RECEIPTS_WAIT_S = 600  # give up waiting for the worker after this long
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SIGN_IN_LINK_RE = re.compile(r"(/connexion/lien/\?jeton=[^\s<>\"]+)")
STEP1_PATH_RE = re.compile(r"/candidature/(\d+)/etape/1/")
SIGN_IN_SUBJECT = "Votre lien de connexion"
RECEIPT_SUBJECT = "Accusé de réception"
MAX_ERROR_MESSAGES = 20

# Run inside ``manage.py shell -c`` against the bench database: the open call, the communes
# the applicants will pick (distinct, active, eligible) and a motivation letter rendered once
# by the project's own PDF pipeline (a realistic WeasyPrint PDF of a few KB).
SETUP_CODE = """
import json, os
from pathlib import Path
from candidatures.models import Collectivite
from cerdd_ami.pdf import pdf_from_html
from candidatures.appels.seed import ensure_appel_ouvert

appel = ensure_appel_ouvert()
wanted = int(os.environ["BENCH_APPLICANTS"])
communes = list(
    Collectivite.objects.active()
    .filter(nature=Collectivite.Nature.COMMUNE, interregional=False)
    .exclude(insee="")
    .order_by("insee")
    .values("siren", "insee", "nom", "codes_postaux")[:wanted]
)
paragraph = (
    "<p>Notre commune souhaite s'engager dans le cycle « Vers des territoires participatifs » "
    "pour donner aux habitant·es une place réelle dans les décisions de transition.</p>"
)
html = (
    "<html><head><meta charset='utf-8'><title>Lettre de motivation</title></head><body>"
    "<h1>Lettre de motivation</h1>" + paragraph * 12 + "</body></html>"
)
Path(os.environ["BENCH_LETTER"]).write_bytes(pdf_from_html(html))
Path(os.environ["BENCH_OUTPUT"]).write_text(
    json.dumps({"slug": appel.slug, "prefixe": appel.prefixe_numero, "communes": communes})
)
"""

# Run inside ``manage.py shell -c`` after the journey: what the database holds for the call.
VERIFY_CODE = """
import json, os
from pathlib import Path
from django.contrib.auth import get_user_model
from django.db.models import Count
from candidatures.models import Appel, Candidature, Depot

appel = Appel.objects.get(slug=os.environ["BENCH_SLUG"])
dossiers = Candidature.objects.filter(appel=appel)
deposees = dossiers.filter(statut=Candidature.Statut.DEPOSEE)
numeros = list(deposees.values_list("numero", flat=True))
depots = Depot.objects.filter(candidature__appel=appel)
Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps({
    "candidatures": dossiers.count(),
    "deposees": deposees.count(),
    "brouillons": dossiers.filter(statut=Candidature.Statut.BROUILLON).count(),
    "numeros": numeros,
    "collectivites_en_double": dossiers.values("collectivite")
        .annotate(n=Count("id")).filter(n__gt=1).count(),
    "depots": depots.count(),
    "deposees_sans_un_depot": deposees.annotate(n=Count("depots")).exclude(n=1).count(),
    "recus_manquants": sum(1 for d in depots if not d.recu.storage.exists(d.recu.name)),
    "recus_non_envoyes": depots.filter(recu_envoye_at__isnull=True).count(),
    "comptes": get_user_model().objects.filter(email__startswith="bench-").count(),
}))
"""

STEP3_TEXT = (
    "La commune a engagé un plan climat en 2019 et réuni un premier conseil citoyen en 2022. "
    "Nous voulons passer de la consultation ponctuelle à une participation continue, "
    "outiller les élu·es et les agent·es, et associer les associations locales aux choix "
    "d'aménagement, d'alimentation et de mobilité. "
)


# ---------------------------------------------------------------------------------------------
# Command line and machine


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark the application journey: N concurrent applicants sign in, fill in and "
            "submit a dossier against gunicorn and PostgreSQL on 127.0.0.1, in a throw-away "
            "database. Exits 1 on any request error or lost/duplicated dossier."
        )
    )
    parser.add_argument(
        "--applicants", type=int, default=200, help="number of applicants (default: 200)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="applicants (and baseline requests) in flight at once (default: 20)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="gunicorn port on 127.0.0.1 (default: 8765)"
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds before one HTTP request counts as failed (default: 120, gunicorn's own)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=15.0,
        help="time budget for the journey; applicants not started by then fail (default: 15)",
    )
    parser.add_argument(
        "--keep-temp",
        action="store_true",
        help="keep the temporary directory (outbox, media, gunicorn logs) even on success",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.applicants <= 2000:
        parser.error("--applicants must be between 1 and 2000")
    if not 1 <= args.concurrency <= 200:
        parser.error("--concurrency must be between 1 and 200")
    if not 1024 <= args.port <= 65535:
        parser.error("--port must be between 1024 and 65535")
    return args


def machine_description() -> dict:
    meminfo = Path("/proc/meminfo")
    ram_gib = None
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if match:
            ram_gib = int(match.group(1)) / 1024 / 1024
    return {
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram": f"{ram_gib:.1f} GiB" if ram_gib else "?",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------------
# Database: a dedicated bench_apply database on a local server


@dataclass
class BenchDatabase:
    url: str  # DATABASE_URL for manage.py and gunicorn
    admin: dict  # psycopg2.connect() arguments for the maintenance database
    embedded_server: object = None  # keeps our handle on the embedded server alive


def _connect_kwargs(url: str, dbname: str) -> dict:
    import dj_database_url

    parsed = dj_database_url.parse(url)
    kwargs = {"dbname": dbname, "user": parsed["USER"], "host": parsed["HOST"]}
    if parsed.get("PASSWORD"):
        kwargs["password"] = parsed["PASSWORD"]
    if parsed.get("PORT"):
        kwargs["port"] = parsed["PORT"]
    return kwargs


def locate_database() -> BenchDatabase:
    """The bench database's URL, on DATABASE_URL's server or on the embedded one."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        parts = urlsplit(configured)
        host = parts.hostname or ""
        # Local TCP or a Unix socket only: this benchmark never loads a remote server.
        if host and host not in LOCAL_DB_HOSTS and not host.startswith("%2f"):
            sys.exit(f"DATABASE_URL points to {host!r}: the benchmark only runs on a local server.")
        url = urlunsplit(parts._replace(path="/" + BENCH_DB))
        return BenchDatabase(url=url, admin=_connect_kwargs(url, "postgres"))

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells): harmless here.
        warnings.simplefilter("ignore")
        sys.path.insert(0, str(ROOT))
        from cerdd_ami.embedded_db import join

        var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
        # Same data directory as cerdd_ami.embedded_db: we join the server
        # `make run` or the tests may already use, and it stops after the last user leaves.
        server = None  # listed as a user until this script exits
        socket_dir = join(var_dir / "postgres")
    url = f"postgres://postgres@{quote(str(socket_dir), safe='')}:5432/{BENCH_DB}"
    return BenchDatabase(url=url, admin=_connect_kwargs(url, "postgres"), embedded_server=server)


def _admin_execute(database: BenchDatabase, statement: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(**database.admin)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def recreate_database(database: BenchDatabase) -> str:
    """Drop any leftover bench database (an interrupted run), create it; returns the version."""
    _admin_execute(database, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin_execute(database, f"CREATE DATABASE {BENCH_DB}")
    return _admin_execute(database, "SHOW server_version")[0][0]


def drop_database(database: BenchDatabase) -> None:
    _admin_execute(database, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def django_env(database: BenchDatabase, work: Path, base_url: str) -> dict:
    """Environment for manage.py and gunicorn: bench database, DEBUG outbox, temp media."""
    env = dict(os.environ)
    # Never let a configured SMTP server receive hundreds of benchmark e-mails; gunicorn's
    # bind and size come from the command line, not from leftovers of the caller's shell.
    for name in ("EMAIL_HOST", "GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        env.pop(name, None)
    env.update(
        {
            "DEBUG": "1",
            "DATABASE_URL": database.url,
            "ALLOWED_HOSTS": HOST,
            # All applicants come from 127.0.0.1: the per-IP limit would stop them at 30.
            "SIGN_IN_LINKS_PER_IP_PER_HOUR": "100000",
            "DEV_OUTBOX_DIR": str(work / "outbox"),
            "MEDIA_ROOT": str(work / "media"),
            "SITE_URL": base_url,
            "PYTHONUNBUFFERED": "1",
            # Receipts go to the PostgreSQL queue, for the worker started beside gunicorn.
            "TASKS_BACKEND": "database",
        }
    )
    return env


def run_manage(env: dict, *args: str, timeout: float = 600) -> None:
    command = [str(VENV_BIN / "python"), "manage.py", *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise RuntimeError(f"manage.py {args[0]} failed (exit {result.returncode})")


def run_django_code(env: dict, code: str, work: Path, **variables: str) -> dict:
    """Run ``code`` in ``manage.py shell -c``; it writes its JSON answer to BENCH_OUTPUT."""
    output = work / f"shell-{uuid.uuid4().hex[:8]}.json"
    run_manage({**env, **variables, "BENCH_OUTPUT": str(output)}, "shell", "-v", "0", "-c", code)
    return json.loads(output.read_text())


# ---------------------------------------------------------------------------------------------
# gunicorn


def ensure_port_free(port: int) -> None:
    # Otherwise /healthz could answer from another server and we would benchmark that one.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        if probe.connect_ex((HOST, port)) == 0:
            sys.exit(f"Something already listens on {HOST}:{port}: choose another --port.")


class Gunicorn:
    """The gunicorn server under test: started, watched and stopped by this script only."""

    def __init__(self, env: dict, port: int, work: Path):
        self.error_log = work / "gunicorn-error.log"
        command = [
            str(VENV_BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--threads",
            str(GUNICORN_THREADS),
            "cerdd_ami.wsgi",
        ]
        # gunicorn.conf.py logs access to stdout and errors to stderr: one file each.
        with (
            (work / "gunicorn-access.log").open("wb") as stdout,
            self.error_log.open("wb") as stderr,
        ):
            # Own session: the whole gunicorn tree can be stopped by its process group.
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True
            )

    def wait_until_healthy(self, base_url: str, timeout: float = 90) -> None:
        opener = local_opener()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode}")
            with (
                contextlib.suppress(URLError, OSError),
                opener.open(base_url + "/healthz", timeout=5) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s")

    def cpu_seconds(self) -> float | None:
        """CPU time of the master and its workers, including workers already recycled.

        Measured on the server side, so the figure holds even when other jobs share the machine.
        """
        try:
            import psutil

            master = psutil.Process(self.process.pid)
            times = master.cpu_times()
            # children_* hold the workers max_requests already recycled (reaped by the master).
            total = times.user + times.system + times.children_user + times.children_system
            for child in master.children(recursive=True):
                worker = child.cpu_times()
                total += worker.user + worker.system
            return total
        except Exception:  # psutil missing or a worker exiting while we read it
            return None

    def workers_booted(self) -> int:
        """Workers started so far: GUNICORN_WORKERS, plus one per max_requests recycling."""
        if not self.error_log.exists():
            return 0
        return self.error_log.read_text(errors="replace").count("Booting worker with pid")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: workers finish their request
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own process group only
            self.process.wait(timeout=10)


class TaskWorker:
    """``manage.py worker`` beside gunicorn, as ``make run`` and production run it."""

    def __init__(self, env: dict, work: Path):
        self.log = work / "worker.log"
        # --no-reload: DEBUG=1 (the outbox) would otherwise turn on the autoreloader, whose
        # file polling thread competes with the rendering for the GIL; production has no DEBUG.
        command = [
            str(VENV_BIN / "python"),
            "manage.py",
            "worker",
            "--interval",
            "0.5",
            "--no-reload",
        ]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float | None:
        try:
            import psutil

            process = psutil.Process(self.process.pid)
            total = 0.0
            for each in [process, *process.children(recursive=True)]:
                times = each.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            return total
        except Exception:  # psutil missing or the worker gone
            return None

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # graceful: the running task finishes first
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own process group only
            self.process.wait(timeout=10)


def receipts_state(database: BenchDatabase) -> dict:
    """Deposits, receipts mailed, last deposit and last receipt (the server's clock)."""
    import psycopg2

    connection = psycopg2.connect(**_connect_kwargs(database.url, BENCH_DB))
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(recu_envoye_at), max(submitted_at), max(recu_envoye_at) "
                "FROM candidatures_depot"
            )
            depots, sent, last_deposit, last_receipt = cursor.fetchone()
    finally:
        connection.close()
    return {
        "depots": depots,
        "sent": sent,
        "last_deposit": last_deposit,
        "last_receipt": last_receipt,
    }


def wait_for_receipts(database: BenchDatabase, worker: TaskWorker, expected: int) -> dict:
    """Poll until the worker has mailed ``expected`` receipts (or gave up, or died)."""
    deadline = time.monotonic() + RECEIPTS_WAIT_S
    while True:
        state = receipts_state(database)
        if state["sent"] >= expected or time.monotonic() > deadline or not worker.alive():
            return state
        time.sleep(0.5)


def warm_up(base_url: str, concurrency: int) -> tuple[int, float]:
    """Load every worker's code and templates before measuring.

    A fresh gunicorn worker imports Django's URLconf, WeasyPrint and compiles templates on its
    first requests (seconds each); a server in service has done that long ago. Requests spread
    over the workers by the kernel, so we send several rounds of the public pages.
    """
    opener = local_opener()
    paths = ["/healthz", "/", "/connexion/"] * (GUNICORN_WORKERS * GUNICORN_THREADS * 2)

    def fetch(path: str) -> None:
        with contextlib.suppress(URLError, OSError), opener.open(base_url + path, timeout=60) as r:
            r.read()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="warm-up") as pool:
        list(pool.map(fetch, paths))
    return len(paths), time.perf_counter() - started


def postgres_cpu_snapshot() -> dict[int, float] | None:
    """CPU time of each PostgreSQL backend serving the bench database, by pid."""
    try:
        import psutil

        snapshot = {}
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if proc.info.get("name") == "postgres" and f" {BENCH_DB} " in cmdline:
                times = proc.cpu_times()
                snapshot[proc.pid] = times.user + times.system
        return snapshot
    except Exception:  # psutil missing, or no permission to read another user's processes
        return None


def postgres_cpu_delta(before: dict | None, after: dict | None) -> float | None:
    """CPU the bench database's backends used in between: a lower bound.

    A backend that exits meanwhile (its gunicorn worker recycled by max_requests) takes its
    CPU time with it; backends alive at the end are counted from their start or ``before``.
    """
    if before is None or after is None:
        return None
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


@dataclass
class PhaseResult:
    """What one phase cost: wall time, requests, CPU seconds (None when unreadable)."""

    name: str
    seconds: float
    requests: int
    server_cpu: float | None
    db_cpu: float | None
    client_cpu: float
    recycled: int = 0  # workers gunicorn replaced meanwhile (max_requests)


class Meter:
    """Wall time, requests, CPU (gunicorn, PostgreSQL, this client), recycled workers of a phase."""

    def __init__(self, name: str, recorder: Recorder, gunicorn: Gunicorn):
        self.name, self.recorder, self.gunicorn = name, recorder, gunicorn

    def __enter__(self) -> Meter:
        self.requests = len(self.recorder.samples)
        self.server = self.gunicorn.cpu_seconds()
        self.db = postgres_cpu_snapshot()
        self.booted = self.gunicorn.workers_booted()
        self.client = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        seconds = time.perf_counter() - self.started
        server = self.gunicorn.cpu_seconds()
        self.result = PhaseResult(
            name=self.name,
            seconds=seconds,
            requests=len(self.recorder.samples) - self.requests,
            server_cpu=None if None in (server, self.server) else server - self.server,
            db_cpu=postgres_cpu_delta(self.db, postgres_cpu_snapshot()),
            client_cpu=time.process_time() - self.client,
            recycled=self.gunicorn.workers_booted() - self.booted,
        )


# ---------------------------------------------------------------------------------------------
# HTTP client: one "browser" per applicant


class _ReturnEveryResponse(HTTPErrorProcessor):
    """Hand 3xx/4xx/5xx back as responses: redirects are followed (and timed) by hand."""

    def http_response(self, request, response):
        return response

    https_response = http_response


def local_opener(cookies: CookieJar | None = None) -> OpenerDirector:
    # ProxyHandler({}) ignores http_proxy & co.: requests must reach 127.0.0.1 directly.
    handlers = [ProxyHandler({}), _ReturnEveryResponse()]
    if cookies is not None:
        handlers.append(HTTPCookieProcessor(cookies))
    return build_opener(*handlers)


@dataclass
class Sample:
    phase: str
    label: str
    status: int | None
    seconds: float
    ok: bool


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def error(self, message: str) -> None:
        with self.lock:
            self.error_count += 1
            if len(self.errors) < MAX_ERROR_MESSAGES:
                self.errors.append(message)


class JourneyError(Exception):
    """One applicant cannot go on: the request failed or the app did not do what was asked.

    ``recorded`` is True when the failing request already counted itself as an error.
    """

    def __init__(self, message: str, *, recorded: bool = False):
        super().__init__(message)
        self.recorded = recorded


@dataclass
class Page:
    status: int
    location: str  # path of the Location header, "" when none
    body: str


class Browser:
    """An applicant's browser: its own cookies and CSRF token, every request timed.

    Each request states the status it expects and, for a redirect, a regular expression its
    target path must match entirely: a form re-displayed with errors (200) or a redirect to
    the wrong page is an error even though HTTP-wise it succeeded.
    """

    def __init__(self, base_url: str, recorder: Recorder, timeout: float, who: str):
        self.base_url = base_url
        self.recorder = recorder
        self.timeout = timeout
        self.who = who
        self.phase = ""
        self.csrf_token = ""
        self.opener = local_opener(CookieJar())

    def get(self, label: str, path: str, *, expect: int = 200, location: str = "") -> Page:
        request = Request(self._url(path))  # noqa: S310 - http://127.0.0.1 only, see _url
        return self._send(label, request, expect, location)

    def post(
        self,
        label: str,
        path: str,
        fields: dict[str, str],
        *,
        files: dict[str, tuple[str, str, bytes]] | None = None,
        expect: int = 302,
        location: str = "",
    ) -> Page:
        fields = {"csrfmiddlewaretoken": self.csrf_token, **fields}
        if files:
            body, content_type = encode_multipart(fields, files)
        else:
            body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        request = Request(self._url(path), data=body, method="POST")  # noqa: S310 - see _url
        request.add_header("Content-Type", content_type)
        # Browsers send Origin on POST; Django's CSRF check compares it with the host.
        request.add_header("Origin", self.base_url)
        return self._send(label, request, expect, location)

    def _url(self, path: str) -> str:
        # Paths only (a sign-in link from an e-mail included): never another host or scheme.
        if not path.startswith("/"):
            raise JourneyError(f"{self.who}: refusing to request {path!r}, not a local path")
        return self.base_url + path

    def _send(self, label: str, request: Request, expect: int, location: str) -> Page:
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read()
                status = response.status
                target = urlsplit(response.headers.get("Location") or "").path
        except (URLError, OSError) as exc:
            elapsed = time.perf_counter() - started
            self.recorder.add(Sample(self.phase, label, None, elapsed, ok=False))
            message = f"{self.who} {label}: {exc.__class__.__name__}: {exc} after {elapsed:.1f} s"
            self.recorder.error(message)
            raise JourneyError(message, recorded=True) from exc
        elapsed = time.perf_counter() - started
        problem = ""
        if not 200 <= status < 400:
            problem = f"HTTP {status}"
        elif status != expect:
            problem = f"HTTP {status}, expected {expect}"
        elif location and not re.fullmatch(location, target):
            problem = f"redirected to {target!r}, expected {location!r}"
        self.recorder.add(Sample(self.phase, label, status, elapsed, ok=not problem))
        if problem:
            message = f"{self.who} {label}: {problem}"
            self.recorder.error(message)
            raise JourneyError(message, recorded=True)
        text = body.decode("utf-8", errors="replace")
        token = CSRF_RE.search(text)
        if token:
            # Each page carries the current token; it changes when the session logs in.
            self.csrf_token = token.group(1)
        return Page(status, target, text)


def encode_multipart(
    fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    boundary = f"----bench{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, content_type, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------------------------------
# Development outbox: where the sign-in links arrive


def is_complete(message, raw: bytes) -> bool:
    """Whether an .eml file was read whole: a multipart message ends with its closing boundary."""
    boundary = message.get_boundary()
    if boundary:
        return raw.rstrip().endswith(f"--{boundary}--".encode())
    return message["Message-ID"] is not None and bool(message.get_payload())


class Outbox:
    """Index of the .eml files gunicorn writes, shared by all applicant threads.

    One scan at a time under a lock, each file parsed once: 20 threads re-reading a directory
    of hundreds of messages would load the 2 cores the server needs.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.seen: set[str] = set()
        self.links: dict[str, str] = {}
        self.lock = threading.Lock()

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for entry in os.scandir(self.directory):
            if not entry.name.endswith(".eml") or entry.name in self.seen:
                continue
            raw = Path(entry.path).read_bytes()
            message = BytesParser(policy=policy.default).parsebytes(raw)
            if not is_complete(message, raw):
                # The backend writes in place: we may read a file gunicorn is still writing.
                # Parse it again on the next scan rather than losing its link.
                continue
            self.seen.add(entry.name)
            if not str(message["subject"] or "").startswith(SIGN_IN_SUBJECT):
                continue
            body = message.get_body(preferencelist=("plain",))
            match = SIGN_IN_LINK_RE.search(body.get_content() if body else "")
            if match:
                for address in message["to"].addresses:
                    self.links[address.addr_spec.lower()] = match.group(1)

    def wait_for_link(self, email: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if email not in self.links:
                    self._scan()
                link = self.links.get(email)
            if link:
                return link
            if time.monotonic() > deadline:
                raise JourneyError(f"{email}: no sign-in link in the outbox after {timeout} s")
            time.sleep(0.05)

    def count_receipts(self) -> int:
        count = 0
        for path in self.directory.glob("*.eml"):
            with path.open("rb") as handle:
                headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
            if str(headers["subject"] or "").startswith(RECEIPT_SUBJECT):
                count += 1
        return count


# ---------------------------------------------------------------------------------------------
# The journey


@dataclass
class Applicant:
    index: int
    commune: dict
    browser: Browser
    pk: int | None = None

    @property
    def email(self) -> str:
        return f"bench-{self.index}@commune.test"


def postcode_of(commune: dict) -> str:
    match = re.search(r"\d{5}", commune.get("codes_postaux") or "")
    return match.group(0) if match else "59000"


def sign_in(applicant: Applicant, outbox: Outbox) -> None:
    browser = applicant.browser
    browser.get("GET /connexion/", "/connexion/")
    browser.post(
        "POST /connexion/",
        "/connexion/",
        {"email": applicant.email, "next": ""},
        location="/connexion/lien-envoye/",
    )
    browser.get("GET /connexion/lien-envoye/", "/connexion/lien-envoye/")
    link = outbox.wait_for_link(applicant.email)
    browser.get("GET /connexion/lien/", link, expect=302, location="/candidature/")
    browser.get("GET /candidature/", "/candidature/")


# Requests fill_in() makes: GET+POST nouvelle, GET+POST steps 1 to 3, step 4 GET, POST (letter)
# and GET again, step 5 GET, POST and GET again. The baseline makes as many /healthz requests.
FORM_PAGE_REQUESTS_PER_APPLICANT = 14


def fill_in(applicant: Applicant, slug: str, letter: bytes) -> None:
    browser, i, commune = applicant.browser, applicant.index, applicant.commune
    page = browser.get(
        "GET /candidature/nouvelle/<slug>/?q=<INSEE>",
        f"/candidature/nouvelle/{slug}/?q={commune['insee']}",
    )
    if commune["siren"] not in page.body:
        raise JourneyError(f"{applicant.email}: commune {commune['insee']} not in search results")
    page = browser.post(
        "POST /candidature/nouvelle/<slug>/",
        f"/candidature/nouvelle/{slug}/",
        {"collectivite": commune["siren"]},
        location=STEP1_PATH_RE.pattern,
    )
    applicant.pk = pk = int(STEP1_PATH_RE.fullmatch(page.location).group(1))
    step_path = f"/candidature/{pk}/etape/{{}}/"

    answers = {
        1: {
            "adresse": f"{i} place de la Mairie",
            "code_postal": postcode_of(commune),
            "ville": commune["nom"],
            "telephone": "03 21 00 00 00",
            "email_contact": f"mairie-{i}@commune.test",
        },
        2: {
            "ref_pol_nom": "Camille Martin",
            "ref_pol_fonction": "Adjointe à la démocratie participative",
            "ref_pol_email": f"elue-{i}@commune.test",
            "ref_pol_telephone": "03 21 00 00 01",
            "ref_tech_nom": "Dominique Leroy",
            "ref_tech_fonction": "Chargé de mission développement durable",
            "ref_tech_email": f"technique-{i}@commune.test",
            "ref_tech_telephone": "03.21.00.00.02",
            "contact_nom": "",
            "contact_fonction": "",
            "contact_email": "",
            "contact_telephone": "",
        },
        # About 1,200 characters per answer: a plausible length, printed on the receipt.
        3: dict.fromkeys(("motivations", "actions", "pistes", "besoins"), STEP3_TEXT * 4),
    }
    for step in (1, 2, 3):
        browser.get(f"GET /candidature/<pk>/etape/{step}/", step_path.format(step))
        browser.post(
            f"POST /candidature/<pk>/etape/{step}/",
            step_path.format(step),
            {**answers[step], "continuer": ""},
            location=step_path.format(step + 1),
        )

    browser.get("GET /candidature/<pk>/etape/4/", step_path.format(4))
    browser.post(
        "POST /candidature/<pk>/etape/4/ (PDF)",
        step_path.format(4),
        {"enregistrer": ""},
        files={"lettre": ("lettre-motivation.pdf", "application/pdf", letter)},
        location=step_path.format(4),
    )
    browser.get("GET /candidature/<pk>/etape/4/", step_path.format(4))

    browser.get("GET /candidature/<pk>/etape/5/", step_path.format(5))
    browser.post(
        "POST /candidature/<pk>/etape/5/",
        step_path.format(5),
        {
            "engagement_binome": "on",
            "engagement_experimentation": "on",
            "consentement_donnees": "on",
            "enregistrer": "",
        },
        location=step_path.format(5),
    )
    page = browser.get("GET /candidature/<pk>/etape/5/", step_path.format(5))
    if "il reste à compléter" in page.body:
        raise JourneyError(f"{applicant.email}: dossier {pk} still incomplete after step 5")


def submit(applicant: Applicant) -> None:
    browser, pk = applicant.browser, applicant.pk
    browser.post(
        "POST /candidature/<pk>/deposer/",
        f"/candidature/{pk}/deposer/",
        {},
        location=f"/candidature/{pk}/",
    )
    browser.get("GET /candidature/<pk>/", f"/candidature/{pk}/")


def run_phase(
    name: str,
    applicants: list[Applicant],
    action,
    *,
    concurrency: int,
    deadline: float,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> tuple[list[Applicant], PhaseResult]:
    """Run ``action`` for every applicant, ``concurrency`` at a time; returns who succeeded."""

    def one(applicant: Applicant) -> Applicant | None:
        if time.monotonic() > deadline:
            recorder.error(f"{applicant.email} {name}: not started, time budget exhausted")
            return None
        applicant.browser.phase = name
        try:
            action(applicant)
        except JourneyError as exc:
            if not exc.recorded:
                recorder.error(str(exc))
            return None
        except Exception as exc:  # a bug in this script must not hang the pool
            recorder.error(f"{applicant.email} {name}: {exc.__class__.__name__}: {exc}")
            return None
        return applicant

    with (
        Meter(name, recorder, gunicorn) as meter,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name) as pool,
    ):
        results = list(pool.map(one, applicants))
    return [applicant for applicant in results if applicant is not None], meter.result


def run_baseline(
    base_url: str,
    count: int,
    *,
    concurrency: int,
    timeout: float,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> PhaseResult:
    """``count`` GET /healthz with the same client and concurrency as the journey."""
    local = threading.local()

    def one(_: int) -> None:
        if not hasattr(local, "browser"):
            local.browser = Browser(base_url, recorder, timeout, "baseline")
            local.browser.phase = "baseline"
        with contextlib.suppress(JourneyError):  # already counted by the browser
            local.browser.get("GET /healthz", "/healthz")

    with (
        Meter("baseline /healthz", recorder, gunicorn) as meter,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="baseline") as pool,
    ):
        list(pool.map(one, range(count)))
    return meter.result


def cpu_per_request(
    pairs: list[tuple[Browser, str, str]], *, concurrency: int, gunicorn: Gunicorn
) -> float | None:
    """Server CPU milliseconds per request of one page type, ``concurrency`` at a time.

    One type at a time, so that gunicorn's CPU is that page's alone; errors are recorded by the
    browsers and the measurement goes on.
    """

    def fetch(pair: tuple[Browser, str, str]) -> None:
        browser, label, path = pair
        browser.phase = "cpu probe"
        with contextlib.suppress(JourneyError):
            browser.get(label, path)

    before = gunicorn.cpu_seconds()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cpu-probe") as pool:
        list(pool.map(fetch, pairs))
    after = gunicorn.cpu_seconds()
    if before is None or after is None or not pairs:
        return None
    return (after - before) * 1000 / len(pairs)


def probe_pages(
    applicants: list[Applicant],
    pages: dict[str, str],
    *,
    base_url: str,
    args: argparse.Namespace,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> dict[str, float | None]:
    """CPU per request of ``GET /connexion/`` (anonymous browsers, as before signing in) and of
    each of ``pages`` (label -> path with ``{pk}``, each applicant on its own dossier)."""
    anonymous = [
        Browser(base_url, recorder, args.request_timeout, f"anonymous-{a.index}")
        for a in applicants
    ]
    results = {
        "GET /connexion/": cpu_per_request(
            [(b, "GET /connexion/ (probe)", "/connexion/") for b in anonymous],
            concurrency=args.concurrency,
            gunicorn=gunicorn,
        )
    }
    for label, path in pages.items():
        results[label] = cpu_per_request(
            [(a.browser, f"{label} (probe)", path.format(pk=a.pk)) for a in applicants],
            concurrency=args.concurrency,
            gunicorn=gunicorn,
        )
    return results


STEP_PAGES = {f"GET step {n}": f"/candidature/{{pk}}/etape/{n}/" for n in range(1, 6)}
DOSSIER_PAGE = {"GET dossier page": "/candidature/{pk}/"}


# ---------------------------------------------------------------------------------------------
# Report


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_row(label: str, samples: list[Sample]) -> str:
    values = sorted(sample.seconds * 1000 for sample in samples)
    errors = sum(1 for sample in samples if not sample.ok)
    return (
        f"  {label:<44} {len(values):>6} {errors:>4} {percentile(values, 50):>8.0f} "
        f"{percentile(values, 95):>8.0f} {percentile(values, 99):>8.0f} {values[-1]:>8.0f}"
    )


def cpu_columns(seconds: float | None, requests: int) -> tuple[str, str]:
    """CPU seconds and CPU milliseconds per request, or "?" when they could not be read."""
    if seconds is None or not requests:
        return "?", "?"
    return f"{seconds:.1f}", f"{seconds * 1000 / requests:.1f}"


def print_phases(phases: list[PhaseResult]) -> None:
    # CPU per request is measured on the server processes: unlike req/s, it barely moves when
    # other jobs share the machine.
    print(
        f"  {'phase':<20} {'requests':>8} {'wall s':>8} {'req/s':>8} {'app CPU s':>9} "
        f"{'app ms/req':>10} {'db CPU s':>8} {'db ms/req':>9} {'client CPU s':>12} "
        f"{'recycled':>8}"
    )
    for phase in phases:
        rate = phase.requests / phase.seconds if phase.seconds else float("nan")
        app_total, app_per_request = cpu_columns(phase.server_cpu, phase.requests)
        db_total, db_per_request = cpu_columns(phase.db_cpu, phase.requests)
        print(
            f"  {phase.name:<20} {phase.requests:>8} {phase.seconds:>8.1f} {rate:>8.1f} "
            f"{app_total:>9} {app_per_request:>10} {db_total:>8} {db_per_request:>9} "
            f"{phase.client_cpu:>12.1f} {phase.recycled:>8}"
        )


def print_latencies(samples: list[Sample], phases: list[str]) -> None:
    print(
        f"  {'request (ms)':<44} {'count':>6} {'err':>4} {'p50':>8} {'p95':>8} {'p99':>8} "
        f"{'max':>8}"
    )
    for phase in phases:
        by_label: dict[str, list[Sample]] = defaultdict(list)
        for sample in samples:
            if sample.phase == phase:
                by_label[sample.label].append(sample)
        print(f"  [{phase}]")
        for label, group in by_label.items():
            print(latency_row(label, group))
        merged = [sample for group in by_label.values() for sample in group]
        if merged:
            print(latency_row(f"all {phase} requests", merged))
    journey = [sample for sample in samples if sample.phase not in ("baseline", "cpu probe")]
    if journey:
        print(latency_row("ALL journey requests", journey))


def verify_database(setup: BenchSetup, work: Path, expected: int) -> list[str]:
    """What is wrong in the database (empty list: every dossier submitted exactly once)."""
    found = run_django_code(setup.env, VERIFY_CODE, work, BENCH_SLUG=setup.slug)
    numeros = found["numeros"]
    wanted = {f"{setup.prefixe}-{n:03d}" for n in range(1, expected + 1)}
    problems = []
    if found["candidatures"] != expected:
        problems.append(f"{found['candidatures']} candidatures instead of {expected}")
    if found["deposees"] != expected:
        problems.append(f"{found['deposees']} with statut 'deposee' instead of {expected}")
    if len(set(numeros)) != len(numeros) or "" in numeros:
        problems.append(f"duplicated or empty numeros among {len(numeros)}")
    elif set(numeros) != wanted:
        missing = sorted(wanted - set(numeros))[:5]
        problems.append(f"numeros are not 001..{expected:03d} (missing e.g. {missing})")
    if found["collectivites_en_double"]:
        problems.append(f"{found['collectivites_en_double']} collectivités with two dossiers")
    if found["depots"] != expected:
        problems.append(f"{found['depots']} Depot rows instead of {expected}")
    if found["deposees_sans_un_depot"]:
        problems.append(f"{found['deposees_sans_un_depot']} submitted dossiers without one Depot")
    if found["recus_manquants"]:
        problems.append(f"{found['recus_manquants']} receipt PDFs missing from MEDIA_ROOT")
    if found["recus_non_envoyes"]:
        problems.append(f"{found['recus_non_envoyes']} receipts not mailed by the worker")
    print(
        f"  candidatures {found['candidatures']}, deposees {found['deposees']}, brouillons "
        f"{found['brouillons']}, distinct numeros {len(set(numeros))}, Depot rows "
        f"{found['depots']}, applicant accounts {found['comptes']}"
    )
    return problems


# ---------------------------------------------------------------------------------------------
# Main


@dataclass
class BenchSetup:
    pg_version: str
    env: dict  # environment of manage.py and gunicorn
    slug: str
    prefixe: str
    communes: list[dict]
    letter: bytes


def prepare(database: BenchDatabase, work: Path, base_url: str, applicants: int) -> BenchSetup:
    """Fresh bench database, migrated, with an open call; communes and letter for applicants."""
    pg_version = recreate_database(database)
    env = django_env(database, work, base_url)
    run_manage(env, "migrate", "--noinput", "-v", "0")
    letter_path = work / "lettre-motivation.pdf"
    found = run_django_code(
        env,
        SETUP_CODE,
        work,
        BENCH_APPLICANTS=str(applicants),
        BENCH_LETTER=str(letter_path),
    )
    if len(found["communes"]) < applicants:
        raise RuntimeError(f"only {len(found['communes'])} eligible communes in the database")
    return BenchSetup(
        pg_version=pg_version,
        env=env,
        slug=found["slug"],
        prefixe=found["prefixe"],
        communes=found["communes"],
        letter=letter_path.read_bytes(),
    )


def run_journey(
    setup: BenchSetup,
    args: argparse.Namespace,
    base_url: str,
    outbox: Outbox,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> tuple[list[Applicant], list[PhaseResult], dict[str, float | None]]:
    """Sign-in, form pages, submission for every applicant; returns who completed, the phases
    and the step pages' CPU per request."""
    applicants = [
        Applicant(i, commune, Browser(base_url, recorder, args.request_timeout, f"bench-{i}"))
        for i, commune in enumerate(setup.communes[: args.applicants], start=1)
    ]
    common = {
        "concurrency": args.concurrency,
        "deadline": time.monotonic() + args.max_minutes * 60,
        "recorder": recorder,
        "gunicorn": gunicorn,
    }
    signed_in, signin = run_phase("sign-in", applicants, lambda a: sign_in(a, outbox), **common)
    print(f"  sign-in done: {len(signed_in)} applicants in {signin.seconds:.1f} s", flush=True)
    filled, form = run_phase(
        "form pages", signed_in, lambda a: fill_in(a, setup.slug, setup.letter), **common
    )
    print(f"  form pages done: {len(filled)} dossiers in {form.seconds:.1f} s", flush=True)
    # The step pages' CPU, one page type at a time, on the drafts the applicants just filled.
    step_cpu = probe_pages(
        filled, STEP_PAGES, base_url=base_url, args=args, recorder=recorder, gunicorn=gunicorn
    )
    print("  step pages' CPU probed", flush=True)
    submitted, submission = run_phase("submission", filled, submit, **common)
    print(f"  submission done: {len(submitted)} dossiers in {submission.seconds:.1f} s")
    return submitted, [signin, form, submission], step_cpu


def total_of(phases: list[PhaseResult]) -> PhaseResult:
    return PhaseResult(
        name="journey (all)",
        seconds=sum(p.seconds for p in phases),
        requests=sum(p.requests for p in phases),
        server_cpu=sum(p.server_cpu or 0 for p in phases),
        db_cpu=sum(p.db_cpu or 0 for p in phases),
        client_cpu=sum(p.client_cpu for p in phases),
        recycled=sum(p.recycled for p in phases),
    )


def rate(phase: PhaseResult) -> float:
    return phase.requests / phase.seconds if phase.seconds else 0.0


def print_report(
    phases: list[PhaseResult],
    baseline: PhaseResult,
    recorder: Recorder,
    completed: int,
    args: argparse.Namespace,
) -> None:
    journey = total_of(phases)
    print(
        f"\nResults\n  total journey time {journey.seconds:.1f} s; applicants completed "
        f"{completed}/{args.applicants}; errors {recorder.error_count}; load average after "
        f"{load_average()}"
    )
    # app/db CPU: gunicorn and PostgreSQL processes; recycled: workers gunicorn restarted
    # (max_requests), each paying the imports again inside the phase.
    print_phases([*phases, journey, baseline])
    print()
    print_latencies(recorder.samples, ["sign-in", "form pages", "submission", "baseline"])
    form_rate, baseline_rate = rate(phases[1]), rate(baseline)
    ratio = form_rate / baseline_rate if baseline_rate else 0.0
    print(
        f"\n  form pages {form_rate:.1f} req/s / baseline {baseline_rate:.1f} req/s = "
        f"{ratio:.0%} (for information: issue 15 replaced this target by CPU ratios)"
    )
    if recorder.errors:
        print(f"\nErrors ({recorder.error_count}, first {len(recorder.errors)}):")
        for message in recorder.errors:
            print(f"  - {message}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_targets(
    samples: list[Sample],
    receipts: dict,
    expected: int,
    worker_cpu: float | None,
    step_cpu: dict[str, float | None],
    dossier_cpu: dict[str, float | None],
) -> list[str]:
    """The targets of issue 15, printed; returns the ones missed."""
    missed = []
    print("\nTargets (issue 15)")
    for label, target in [
        ("POST /candidature/<pk>/deposer/", DEPOSIT_P95_TARGET_MS),
        ("GET /candidature/<pk>/", AFTER_DEPOSIT_P95_TARGET_MS),
    ]:
        values = sorted(s.seconds * 1000 for s in samples if s.label == label)
        p95 = percentile(values, 95)
        ok = p95 <= target
        print(f"  {label} p95 {p95:.0f} ms (≤ {target} ms: {verdict(ok)})")
        if not ok:
            missed.append(f"{label} p95")

    last_deposit, last_receipt = receipts["last_deposit"], receipts["last_receipt"]
    delay = (last_receipt - last_deposit).total_seconds() if last_deposit and last_receipt else None
    ok = receipts["sent"] == expected and delay is not None and delay <= RECEIPTS_TARGET_S
    delay_text = f"{delay:.1f} s" if delay is not None else "?"
    cpu_text = f"{worker_cpu:.1f} s" if worker_cpu is not None else "?"
    print(
        f"  receipts delivered {receipts['sent']}/{expected}; every receipt delivered ≤ "
        f"{RECEIPTS_TARGET_S} s after the last deposit: last one {delay_text} after "
        f"({verdict(ok)}); worker CPU {cpu_text}"
    )
    if not ok:
        missed.append("receipts")

    for probe, pages, target in [
        (step_cpu, STEP_PAGES, STEP_CPU_RATIO_TARGET),
        (dossier_cpu, DOSSIER_PAGE, DOSSIER_CPU_RATIO_TARGET),
    ]:
        reference = probe.get("GET /connexion/")
        print(f"  server CPU per request: GET /connexion/ {reference or float('nan'):.1f} ms")
        for label in pages:
            cpu = probe.get(label)
            ratio = cpu / reference if cpu and reference else float("nan")
            ok = ratio <= target
            print(
                f"    {label:<20} {cpu or float('nan'):>6.1f} ms = {ratio:.1f}× "
                f"(≤ {target}×: {verdict(ok)})"
            )
            if not ok:
                missed.append(f"{label} CPU ratio")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base_url = f"http://{HOST}:{args.port}"
    ensure_port_free(args.port)
    machine = machine_description()
    database = locate_database()
    work = Path(tempfile.mkdtemp(prefix="bench_apply-"))
    gunicorn: Gunicorn | None = None
    worker: TaskWorker | None = None
    recorder = Recorder()
    failed = True
    try:
        print("Setting up: database bench_apply, migrations, open call…", flush=True)
        setup = prepare(database, work, base_url, args.applicants)
        gunicorn = Gunicorn(setup.env, args.port, work)
        gunicorn.wait_until_healthy(base_url)
        worker = TaskWorker(setup.env, work)
        boot_cpu = gunicorn.cpu_seconds()
        warm_count, warm_seconds = warm_up(base_url, args.concurrency)
        print(
            f"\nCerdd AMI — application journey benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n"
            f"  machine: {machine['cpus']} CPUs, {machine['ram']} RAM, {machine['platform']}\n"
            f"  Python {machine['python']}, PostgreSQL {setup.pg_version}, gunicorn "
            f"{GUNICORN_WORKERS} workers × {GUNICORN_THREADS} threads + 1 task worker, "
            "DEBUG=1 (outbox)\n"
            f"  applicants {args.applicants}, concurrency {args.concurrency}, letter PDF "
            f"{len(setup.letter) / 1024:.1f} KB, load average before {load_average()}\n"
            f"  gunicorn start-up CPU {boot_cpu or 0:.1f} s (master + {GUNICORN_WORKERS} workers); "
            f"warm-up (not counted): {warm_count} requests in {warm_seconds:.1f} s",
            flush=True,
        )

        # Baseline first, on a warm server: workers recycled by max_requests later in the run
        # would otherwise charge their start-up to the trivial view.
        baseline = run_baseline(
            base_url,
            FORM_PAGE_REQUESTS_PER_APPLICANT * args.applicants,
            concurrency=args.concurrency,
            timeout=args.request_timeout,
            recorder=recorder,
            gunicorn=gunicorn,
        )
        print(f"  baseline done: {baseline.requests} requests in {baseline.seconds:.1f} s")
        outbox = Outbox(work / "outbox")
        worker_cpu_before = worker.cpu_seconds()
        submitted, phases, step_cpu = run_journey(setup, args, base_url, outbox, recorder, gunicorn)
        receipts = wait_for_receipts(database, worker, len(submitted))
        worker_cpu_after = worker.cpu_seconds()
        worker_cpu = (
            None
            if None in (worker_cpu_before, worker_cpu_after)
            else worker_cpu_after - worker_cpu_before
        )
        print(f"  receipts: {receipts['sent']} mailed by the worker", flush=True)
        # The dossier page once its receipt is there, as applicants come back to it.
        dossier_cpu = probe_pages(
            submitted,
            DOSSIER_PAGE,
            base_url=base_url,
            args=args,
            recorder=recorder,
            gunicorn=gunicorn,
        )
        print_report(phases, baseline, recorder, len(submitted), args)
        print_targets(
            recorder.samples, receipts, args.applicants, worker_cpu, step_cpu, dossier_cpu
        )

        print("\nDatabase check")
        try:
            problems = verify_database(setup, work, args.applicants)
        except RuntimeError as exc:  # manage.py failed; its output is printed above
            problems = [f"database check could not run: {exc}"]
        receipts = outbox.count_receipts()
        if receipts != args.applicants:
            problems.append(f"{receipts} receipt e-mails in the outbox, not {args.applicants}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        if not problems:
            print(f"  no lost or duplicated dossier ({receipts} receipt e-mails sent)")
        failed = bool(recorder.error_count or problems)
        return 1 if failed else 0
    finally:
        if worker is not None:
            worker.stop()
        if gunicorn is not None:
            gunicorn.stop()
        try:
            drop_database(database)
        except Exception as exc:
            print(f"Could not drop database {BENCH_DB}: {exc}", file=sys.stderr)
        if failed or args.keep_temp:
            # Outbox, uploaded files and gunicorn's logs explain what went wrong.
            print(f"Temporary files kept in {work} (gunicorn-error.log, worker.log for tracebacks)")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
