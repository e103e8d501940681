"""Infrastructure of the HTTP benchmarks: the machine, the throw-away bench database, the
gunicorn server and task worker under test, receipts, warm-up and server-side CPU readings.

Used by scripts/bench_apply.py and scripts/bench_faults.py (run as scripts, so this module
imports by plain name: scripts/ is sys.path[0]).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import URLError
from urllib.parse import quote, urlsplit, urlunsplit
from urllib.request import (
    HTTPCookieProcessor,
    HTTPErrorProcessor,
    OpenerDirector,
    ProxyHandler,
    build_opener,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
BENCH_DB = "bench_apply"
HOST = "127.0.0.1"  # the only address this benchmark ever talks to
LOCAL_DB_HOSTS = {"127.0.0.1", "localhost", "::1"}
# gunicorn's size as gunicorn.conf.py sets it on this machine (the caller's WEB_CONCURRENCY
# and GUNICORN_THREADS apply, to compare sizes), then passed on the command line.
_GUNICORN_CONF = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
GUNICORN_WORKERS = _GUNICORN_CONF["workers"]
GUNICORN_THREADS = _GUNICORN_CONF["threads"]
RECEIPTS_WAIT_S = 600  # give up waiting for the worker after this long


# ---------------------------------------------------------------------------------------------
# Machine


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
# Local HTTP opener (no proxy, every status handed back)


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


# ---------------------------------------------------------------------------------------------
# Database: a dedicated bench_apply database on a local server


@dataclass
class BenchDatabase:
    url: str  # DATABASE_URL for manage.py and gunicorn
    admin: dict  # psycopg2.connect() arguments for the maintenance database
    embedded_server: object = None  # keeps our handle on the embedded server alive


def connect_kwargs(url: str, dbname: str) -> dict:
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
        return BenchDatabase(url=url, admin=connect_kwargs(url, "postgres"))

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
    return BenchDatabase(url=url, admin=connect_kwargs(url, "postgres"), embedded_server=server)


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
    """Environment for manage.py and gunicorn: bench database, production settings, outbox
    files, temp media."""
    env = dict(os.environ)
    # Never let a configured SMTP server receive hundreds of benchmark e-mails; gunicorn's
    # bind and size come from the command line (size: GUNICORN_WORKERS, GUNICORN_THREADS).
    for name in ("EMAIL_HOST", "GUNICORN_BIND", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        env.pop(name, None)
    env.update(
        {
            # Production settings, as measured by issue 15's targets; plain HTTP on 127.0.0.1,
            # static files from the finders (no collectstatic), e-mails as files (outbox).
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_MANIFEST": "0",
            "SECRET_KEY": "bench-only-" + "x" * 50,
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

    def __init__(self, env: dict, work: Path, worker_id: str | None = None):
        """``worker_id`` fixed, its tasks can be followed in the queue (bench_faults)."""
        self.worker_id = worker_id
        self.log = work / (f"worker-{worker_id}.log" if worker_id else "worker.log")
        # --no-reload: with DEBUG on the autoreloader's file polling thread would compete
        # with the rendering for the GIL; production has no autoreloader.
        # nice 10, as the Procfile and the systemd unit start it: pages first, receipts after.
        command = [
            "nice",
            "-n",
            "10",
            str(VENV_BIN / "python"),
            "manage.py",
            "worker",
            "--interval",
            "0.5",
            "--no-reload",
        ]
        if worker_id:
            command += ["--worker-id", worker_id]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**env, "TASKS_BACKEND": "database"},
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

    connection = psycopg2.connect(**connect_kwargs(database.url, BENCH_DB))
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
