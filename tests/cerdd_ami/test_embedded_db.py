"""The embedded PostgreSQL survives whatever ends the processes using it.

Every test runs its own server in a temporary VAR_DIR: the developer's var/postgres is never
touched. Users are real subprocesses (settings loaded through cerdd_ami.embedded_db, as
manage.py does) killed at chosen points.
"""

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from cerdd_ami import embedded_db

ROOT = Path(__file__).resolve().parents[2]
LINGER = "0.5"

# A user of the server: joins it, runs one statement, says "ready", then waits for a line on
# stdin (or a signal) and answers it with the result of a query.
USER_SCRIPT = """
import sys
from pathlib import Path
from cerdd_ami.embedded_db import database_settings
import psycopg2
db = database_settings(Path(sys.argv[1]))
connection = psycopg2.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"])
connection.autocommit = True
cursor = connection.cursor()
cursor.execute(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
cursor.execute("SELECT string_agg(note, ',' ORDER BY note) FROM notes")
print(cursor.fetchone()[0], flush=True)
"""


@pytest.fixture
def data_dir(server_tmp_path):
    path = server_tmp_path / "postgres"
    yield path
    # Whatever a failed test left running.
    embedded_db.stop_server(path)
    state = _state(path)
    if state and state.get("watchdog"):
        _kill(state["watchdog"][0], signal.SIGKILL)


def _env():
    return {**os.environ, "CERDD_PG_LINGER": LINGER, "PYTHONPATH": str(ROOT)}


def _user(data_dir, statement="SELECT 1"):
    """Start a user in its own session (like a terminal's foreground job); wait for "ready"."""
    process = subprocess.Popen(
        [sys.executable, "-c", USER_SCRIPT, str(data_dir), statement],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline()
    assert line == "ready\n", process.stderr.read()
    return process


def _ask_notes(process) -> str:
    process.stdin.write("\n")
    process.stdin.flush()
    answer = process.stdout.readline().strip()
    process.wait(10)
    return answer


def _state(data_dir):
    path = data_dir.parent / "postgres.users.json"
    return json.loads(path.read_text()) if path.exists() else None


def _kill(pid, signum):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_stopped(data_dir, timeout=15.0, *, watchdog=True) -> float:
    """Seconds until the server is stopped and its watchdog gone (fails after timeout)."""
    start = time.monotonic()
    while embedded_db.server_pid(data_dir) is not None or (
        watchdog and (_state(data_dir) or {}).get("watchdog")
    ):
        assert time.monotonic() - start < timeout, "le serveur ne s'est pas arrêté"
        time.sleep(0.1)
    return time.monotonic() - start


CREATE = "CREATE TABLE IF NOT EXISTS notes (note text); INSERT INTO notes VALUES ('{}')"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_embedded_db_stops_after_its_user_is_killed_and_keeps_the_data(data_dir, signum):
    first = _user(data_dir, CREATE.format("avant"))
    _kill(first.pid, signum)
    first.wait(10)
    _wait_stopped(data_dir)
    assert _state(data_dir) == {"users": [], "watchdog": None}

    again = _user(data_dir, CREATE.format("après"))
    assert _ask_notes(again) == "après,avant"
    assert "réparé" not in again.stderr.read()  # the watchdog left nothing to repair
    _wait_stopped(data_dir)


def test_embedded_db_serves_the_other_users_when_one_is_killed(data_dir):
    run = _user(data_dir, CREATE.format("run"))
    tests = _user(data_dir, CREATE.format("tests"))
    run.send_signal(signal.SIGKILL)
    run.wait(10)
    time.sleep(float(LINGER) + 1.5)  # well past the watchdog's linger

    assert _ask_notes(tests) == "run,tests"
    _wait_stopped(data_dir)


def test_embedded_db_repairs_users_and_watchdog_killed_together(data_dir):
    first = _user(data_dir, CREATE.format("a"))
    watchdog = _state(data_dir)["watchdog"][0]
    _kill(watchdog, signal.SIGKILL)
    _kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert embedded_db.server_pid(data_dir) is not None  # nobody left to stop it

    again = _user(data_dir)
    assert _ask_notes(again) == "a"
    stderr = again.stderr.read()
    assert stderr == (
        f"PostgreSQL embarqué réparé : 1 processus disparu(s) retiré(s) des utilisateurs "
        f"({first.pid}).\n"
    )
    _wait_stopped(data_dir)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "vide"),
        ('{"users": [[12', "illisible (JSONDecodeError)"),
        ("[]", "illisible (TypeError)"),
    ],
)
def test_embedded_db_repairs_an_empty_or_corrupt_state_file(data_dir, content, said):
    first = _user(data_dir, CREATE.format("a"))
    first.send_signal(signal.SIGTERM)
    first.wait(10)
    _wait_stopped(data_dir)
    (data_dir.parent / "postgres.users.json").write_text(content)

    again = _user(data_dir)
    assert _ask_notes(again) == "a"
    assert again.stderr.read() == (
        f"PostgreSQL embarqué réparé : fichier d'état postgres.users.json {said} remplacé.\n"
    )
    _wait_stopped(data_dir)
    assert _state(data_dir) == {"users": [], "watchdog": None}


def test_embedded_db_repairs_a_stale_postmaster_pid(data_dir):
    first = _user(data_dir, CREATE.format("a"))
    state = _state(data_dir)
    _kill(state["watchdog"][0], signal.SIGKILL)
    postmaster = data_dir / "postmaster.pid"
    server = int(postmaster.read_text().split()[0])
    lines = postmaster.read_text().splitlines()
    _kill(first.pid, signal.SIGKILL)
    _kill(server, signal.SIGKILL)  # a crash: postmaster.pid stays behind
    first.wait(10)
    _wait_stopped(data_dir, watchdog=False)
    time.sleep(0.5)  # the backends notice their postmaster is gone
    # Its pid now belongs to a live process that is not PostgreSQL (a recycled pid).
    lines[0] = str(os.getpid())
    postmaster.write_text("\n".join(lines) + "\n")

    again = _user(data_dir)
    assert _ask_notes(again) == "a"
    assert again.stderr.read() == (
        "PostgreSQL embarqué réparé : 1 processus disparu(s) retiré(s) des utilisateurs "
        f"({first.pid}) ; postmaster.pid d'un serveur arrêté brutalement supprimé.\n"
    )
    _wait_stopped(data_dir)


def test_embedded_db_starts_after_ten_interruptions_at_random_points(data_dir):
    """Ten runs killed in any way, at any point (start-up included); the eleventh works."""
    seed = _user(data_dir, CREATE.format("demo"))
    seed.send_signal(signal.SIGINT)
    seed.wait(10)
    rng = random.Random(18)  # noqa: S311 - reproducible, not secret
    for _ in range(10):
        process = subprocess.Popen(
            [sys.executable, "-c", USER_SCRIPT, str(data_dir), "SELECT 1"],
            cwd=ROOT,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0, 1.5))
        signum = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL, signal.SIGHUP])
        os.killpg(process.pid, signum)
        if signum == signal.SIGINT and rng.random() < 0.5:
            os.killpg(process.pid, signum)  # Ctrl-C twice
        process.wait(10)

    eleventh = _user(data_dir)
    assert _ask_notes(eleventh) == "demo"
    _wait_stopped(data_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_runserver_stops_within_two_seconds_of_ctrl_c_and_the_server_follows(server_tmp_path):
    """`make run`'s last step, interrupted as a terminal does (SIGINT to the process group)."""
    tmp_path = server_tmp_path
    port = _free_port()
    env = {**_env(), "DEBUG": "1", "VAR_DIR": str(tmp_path)}
    runserver = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    data_dir = tmp_path / "postgres"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    assert sock.recv(64).startswith(b"HTTP/1.1 200")
                    break
            except OSError:
                assert time.monotonic() < deadline, "runserver n'a pas démarré"
                time.sleep(0.3)
        assert len(_state(data_dir)["users"]) == 2  # the reloader and its server

        started = time.monotonic()
        os.killpg(runserver.pid, signal.SIGINT)
        runserver.wait(5)
        assert time.monotonic() - started < 2
        _wait_stopped(data_dir)
        assert _state(data_dir) == {"users": [], "watchdog": None}
    finally:
        if runserver.poll() is None:
            os.killpg(runserver.pid, signal.SIGKILL)
        embedded_db.stop_server(data_dir)


def test_embedded_db_socket_dir_moves_out_of_a_too_long_path(tmp_path):
    long_dir = tmp_path / ("x" * 120) / "postgres"
    assert embedded_db.socket_dir_for(long_dir) != long_dir.resolve()
    assert len(str(embedded_db.socket_dir_for(long_dir) / ".s.PGSQL.5432")) <= 100
    short = tmp_path.parent / "p"
    assert embedded_db.socket_dir_for(short) == short


def test_embedded_db_connects_while_listed(data_dir):
    process = _user(data_dir)
    info = (data_dir / "postmaster.pid").read_text().splitlines()
    connection = psycopg2.connect(dbname="cerdd_ami", user="postgres", host=info[4])
    connection.close()
    assert [pid for pid, _ in _state(data_dir)["users"]] == [process.pid]
    process.send_signal(signal.SIGINT)
    process.wait(10)
    _wait_stopped(data_dir)


def test_embedded_db_user_stays_alive_when_the_system_clock_moves(monkeypatch):
    """CI failure: the boot time psutil derives moved by a second between two test runs, the
    watchdog took the browser run for a recycled pid and stopped the server under it."""
    import psutil

    me = embedded_db._identity(os.getpid())
    wall_clock_start = psutil.Process().create_time()
    boot_time = psutil.boot_time()
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: boot_time + 1.0)
    assert psutil.Process().create_time() == wall_clock_start + 1.0  # the clock did move

    assert embedded_db._is_alive(me) is True
    assert embedded_db._is_alive([os.getpid(), me[1] - 1]) is False  # a recycled pid
    assert embedded_db._is_alive([2**22 + 1, me[1]]) is False  # a process that is gone
