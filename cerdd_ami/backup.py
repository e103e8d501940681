"""Backup and restore of the whole product: the database and the stored files.

A backup directory holds ``base.dump`` (pg_dump, custom format), ``media/`` (a copy of every
file of the default storage: MEDIA_ROOT, or the S3 bucket when S3_BUCKET is set) and
``manifest.json``: row counts per table, SHA-256 of the dump and of every file. The counts are
taken in the very snapshot pg_dump exports, so they describe the dump exactly; the files are
copied after the dump, so every file the dump refers to is there. Files are read and written
through Django's storage API only, so a backup taken from a bucket restores onto a disk and
the other way round.
"""

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection

from cerdd_ami.embedded_db import bin_path

MANIFEST = "manifest.json"
DUMP = "base.dump"
MEDIA = "media"
FORMAT = 1


class BackupError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def media_hashes(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix(): sha256_of(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def stored_names(directory: str = "") -> list[str]:
    """Every file name of the default storage under ``directory``, sorted."""
    try:
        directories, files = default_storage.listdir(directory)
    except FileNotFoundError:  # MEDIA_ROOT not created yet: nothing stored
        return []
    names = [f"{directory}{name}" for name in files]
    for subdirectory in directories:
        names += stored_names(f"{directory}{subdirectory}/")
    return sorted(names)


def stored_hashes() -> dict[str, str]:
    """SHA-256 of every file of the default storage, by name."""
    hashes = {}
    for name in stored_names():
        digest = hashlib.sha256()
        with default_storage.open(name, "rb") as file:
            for block in iter(lambda file=file: file.read(1 << 20), b""):
                digest.update(block)
        hashes[name] = digest.hexdigest()
    return hashes


def _storage_label() -> str:
    bucket = getattr(default_storage, "bucket_name", None)
    return f"Le bucket {bucket}" if bucket else str(Path(settings.MEDIA_ROOT))


def _copy_stored_files(target: Path) -> None:
    target.mkdir()
    for name in stored_names():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(name, "rb") as source, open(path, "wb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)


def table_counts() -> dict[str, int]:
    """Rows per table of the public schema, in the current transaction's snapshot."""
    from psycopg2 import sql

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts[table] = cursor.fetchone()[0]
    return counts


def _pg_env() -> dict:
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGDATABASE": db["NAME"], "PGUSER": db["USER"] or ""}
    if db.get("HOST"):
        env["PGHOST"] = str(db["HOST"])
    if db.get("PORT"):
        env["PGPORT"] = str(db["PORT"])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    for option, variable in (("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT")):
        if db.get("OPTIONS", {}).get(option):
            env[variable] = str(db["OPTIONS"][option])
    return env


def _run(args: list[str]) -> None:
    result = subprocess.run(  # noqa: S603 - the wheel's pg_dump/pg_restore, our arguments
        [str(bin_path() / args[0]), *args[1:]],
        env=_pg_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise BackupError(f"{args[0]} a échoué : {result.stderr.strip()}")


def sauvegarder(*, target: Path) -> dict:
    """Write a backup of the database and the stored files into ``target`` (new or empty).

    Side effects: creates ``target`` with the dump, the files and the manifest; written into a
    temporary sibling first and renamed at the end, so a killed backup leaves no half backup.
    Returns the manifest.
    """
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} existe et n'est pas vide.")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                # pg_dump reads the very snapshot the counts are taken in.
                _run(
                    [
                        "pg_dump",
                        "--format=custom",
                        "--no-owner",
                        "--no-privileges",
                        f"--snapshot={snapshot}",
                        f"--file={work / DUMP}",
                    ]
                )
                counts = table_counts()
            finally:
                cursor.execute("ROLLBACK")
        _copy_stored_files(work / MEDIA)
        manifest = {
            "format": FORMAT,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "database": {"file": DUMP, "sha256": sha256_of(work / DUMP), "tables": counts},
            "media": media_hashes(work / MEDIA),
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if target.exists():
            target.rmdir()
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def read_manifest(source: Path) -> dict:
    """The manifest, once the dump and every file match their SHA-256 (else BackupError)."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"Manifeste illisible dans {source} : {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Format de sauvegarde inconnu : {manifest.get('format')!r}.")
    if sha256_of(source / DUMP) != manifest["database"]["sha256"]:
        raise BackupError(f"{DUMP} ne correspond pas à son empreinte SHA-256.")
    found = media_hashes(source / MEDIA)
    if found != manifest["media"]:
        raise BackupError("Les fichiers de la sauvegarde ne correspondent pas au manifeste.")
    return manifest


def restaurer(*, source: Path) -> list[str]:
    """Restore a backup into the empty database and the empty storage of the settings
    (MEDIA_ROOT, or the S3 bucket).

    Side effects: loads the dump (one transaction), stores the files under their names.
    Refuses a database that has tables or a storage that has files. Returns the differences
    found against the manifest once restored (empty when counts and hashes all match).
    """
    source = Path(source).resolve()
    manifest = read_manifest(source)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        if cursor.fetchone()[0]:
            raise BackupError(
                f"La base {settings.DATABASES['default']['NAME']} n'est pas vide : "
                "la restauration se fait dans une base neuve."
            )
    if stored_names():
        raise BackupError(f"{_storage_label()} contient déjà des fichiers : il doit être vide.")
    connection.close()  # pg_restore's single transaction must not wait for our session
    _run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={settings.DATABASES['default']['NAME']}",
            str(source / DUMP),
        ]
    )
    for name in manifest["media"]:
        with open(source / MEDIA / name, "rb") as file:
            stored = default_storage.save(name, File(file, name=name))
        if stored != name:
            raise BackupError(f"{name} a été enregistré sous un autre nom : {stored}.")
    return verify(manifest)


def verify(manifest: dict) -> list[str]:
    """Differences between the database and the stored files and the manifest."""
    problems = []
    with contextlib.closing(connection.cursor()):
        counts = table_counts()
    expected = manifest["database"]["tables"]
    for table in sorted(set(expected) | set(counts)):
        if expected.get(table) != counts.get(table):
            problems.append(
                f"table {table} : {counts.get(table)} lignes au lieu de {expected.get(table)}"
            )
    found = stored_hashes()
    for name in sorted(set(manifest["media"]) | set(found)):
        if manifest["media"].get(name) != found.get(name):
            problems.append(f"fichier {name} : absent ou différent")
    return problems
