"""PostgreSQL stopped and started under a running site (gunicorn, production settings).

A separate embedded server in a temporary directory: the one the other tests use is never
stopped.
"""

import html
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from cerdd_ami import embedded_db

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def site(tmp_path, server_tmp_path):
    """gunicorn (one worker, one thread) on a migrated database of its own embedded server."""
    data_dir = server_tmp_path / "postgres"
    socket_dir = embedded_db.join(data_dir)
    admin = psycopg2.connect(dbname="postgres", user="postgres", host=str(socket_dir))
    admin.autocommit = True
    admin.cursor().execute("CREATE DATABASE site")
    admin.close()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@{quote(str(socket_dir), safe='')}/site",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "0",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn n'a pas démarré"
                time.sleep(0.3)
        yield base, data_dir, gunicorn
    finally:
        gunicorn.terminate()
        gunicorn.wait(30)
        embedded_db.stop_server(data_dir)


def test_database_restart_gives_503_then_the_site_recovers_without_restart(site):
    base, data_dir, gunicorn = site
    status, home = _get(base + "/")
    assert status == 200
    assert "Appels à manifestation d'intérêt du Cerdd" in html.unescape(home)

    embedded_db.stop_server(data_dir)

    status, page = _get(base + "/")
    assert status == 503
    assert "<h1>Service momentanément indisponible</h1>" in page
    assert "Réessayez dans une minute" in page
    assert _get(base + "/healthz") == (503, '{"status": "error", "database": "unreachable"}')

    embedded_db.start_server(data_dir)

    assert _get(base + "/healthz") == (200, '{"status": "ok", "database": "ok"}')
    assert _get(base + "/") == (200, home)
    assert gunicorn.poll() is None  # the same server, not restarted
