"""One ``seed_demo`` per test run, replayed for every test that starts from the demo.

``seed_demo`` renders dozens of PDFs (45 s); a dozen tests start from the demo as ``make run``
loads it. The session fixture ``demo_snapshot`` (tests/conftest.py) seeds the demo once (one
xdist worker seeds, the others read its snapshot: ``shared``) in the state the test database
has right after its migrations, keeps the rows of every table (binary ``COPY`` over the test's
own connection: no client binary needed, and a restore inside a test's transaction is rolled
back with it), the sequences, the files written under ``MEDIA_ROOT`` and what the command
printed; then puts the database back as it was. ``restore`` makes the
database exactly the seeded demo again: every table emptied (``django_migrations`` aside) and
refilled, sequences set back, the files copied under the current ``MEDIA_ROOT`` with the same
names. The demo's dates are relative to today: one seed per run is current enough.
"""

import dataclasses
import fcntl
import io
import pickle
import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import override_settings

# Tables the migrations own: never emptied, never reloaded.
KEPT_TABLES = {"django_migrations"}


@dataclasses.dataclass(frozen=True)
class Rows:
    """Every table's rows (binary COPY) and every sequence's state."""

    tables: dict[str, bytes]
    sequences: dict[str, tuple[int, bool]]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    rows: Rows
    media: Path
    output: str  # what seed_demo printed


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _copy_out(cursor, table: str) -> bytes:
    sql = f"COPY {_quote(table)} TO STDOUT (FORMAT binary)"
    buffer = io.BytesIO()
    if hasattr(cursor, "copy_expert"):  # psycopg2
        cursor.copy_expert(sql, buffer)
    else:  # psycopg 3
        with cursor.copy(sql) as copy:
            for block in copy:
                buffer.write(block)
    return buffer.getvalue()


def _copy_in(cursor, table: str, data: bytes) -> None:
    sql = f"COPY {_quote(table)} FROM STDIN (FORMAT binary)"
    if hasattr(cursor, "copy_expert"):  # psycopg2
        cursor.copy_expert(sql, io.BytesIO(data))
    else:  # psycopg 3
        with cursor.copy(sql) as copy:
            copy.write(data)


def _names(cursor, sql: str) -> list[str]:
    cursor.execute(sql)
    return [name for (name,) in cursor.fetchall()]


def dump() -> Rows:
    """The rows of every table and the state of every sequence, as this connection sees them
    (uncommitted changes of its open transaction included)."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        tables = _names(
            cursor,
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "ORDER BY tablename",
        )
        sequences = {}
        for name in _names(
            cursor, "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
        ):
            cursor.execute(f"SELECT last_value, is_called FROM {_quote(name)}")  # noqa: S608
            sequences[name] = cursor.fetchone()
        raw = cursor.cursor
        data = {table: _copy_out(raw, table) for table in tables if table not in KEPT_TABLES}
    return Rows(tables=data, sequences=sequences)


def load(rows: Rows, *, sequences: bool = True) -> None:
    """Make every table hold exactly ``rows``, in one transaction (a savepoint inside an open
    one). Foreign keys are deferred by Django: checked at commit, in any table order."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(_quote(table) for table in rows.tables))
        for table, data in rows.tables.items():
            _copy_in(cursor.cursor, table, data)
        if sequences:
            for name, (value, is_called) in rows.sequences.items():
                cursor.execute("SELECT setval(%s, %s, %s)", [_quote(name), value, is_called])
    # Cached content types may name ids of the rows just replaced.
    ContentType.objects.clear_cache()


def take(*, pristine: Rows, media: Path) -> Snapshot:
    """Seed the demo from ``pristine`` (the database right after its migrations), committed as
    ``make run`` commits it, with its files under ``media``; keep it; put back the rows the
    database held before (sequences stay ahead, as after any rolled-back work)."""
    if connection.in_atomic_block:
        raise RuntimeError("La démo se charge hors de toute transaction, comme `make run`.")
    before = dump()
    output = io.StringIO()
    try:
        load(pristine, sequences=False)
        with override_settings(MEDIA_ROOT=media, DEV_OUTBOX_DIR=media.parent / "demo-mail"):
            call_command("seed_demo", stdout=output)
        seeded = dump()
    finally:
        load(before, sequences=False)
    return Snapshot(rows=seeded, media=media, output=output.getvalue())


def restore(snapshot: Snapshot, *, media_root: Path | None = None) -> str:
    """The database and ``MEDIA_ROOT`` (or ``media_root``) as the one real seed left them;
    returns what ``seed_demo`` printed."""
    load(snapshot.rows)
    target = Path(media_root if media_root is not None else settings.MEDIA_ROOT)
    if snapshot.media.exists():
        shutil.copytree(snapshot.media, target, dirs_exist_ok=True)
    return snapshot.output


def shared(path: Path, take) -> Snapshot:
    """The snapshot pickled at ``path`` by another process of the run, else ``take()``'s,
    pickled there; one process at a time (a lock file next to it), so the others wait for the
    one seed instead of seeding too."""
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return pickle.loads(path.read_bytes())  # noqa: S301 - written by this run
        snapshot = take()
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(snapshot))
        partial.rename(path)
        return snapshot
