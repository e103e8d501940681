"""sauvegarder / restaurer: a round trip on the embedded PostgreSQL, counts and hashes equal."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg2 import sql

from cerdd_ami.backup import sha256_of
from tests.candidatures.factories import PieceJointeFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def fresh_database():
    """An empty database on the test server, dropped afterwards."""
    name = f"restore_{os.getpid()}"
    params = connection.get_connection_params()
    admin = psycopg2.connect(dbname="postgres", user=params["user"], host=params.get("host"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield {"dbname": name, "user": params["user"], "host": params.get("host")}
    with admin.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    admin.close()


def _counts(connect_kwargs) -> dict[str, int]:
    with psycopg2.connect(**connect_kwargs) as restored, restored.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        counts = {}
        for (table,) in cursor.fetchall():
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            counts[table] = cursor.fetchone()[0]
    return counts


def test_backup_restore_round_trip_gives_the_same_counts_and_files(
    tmp_path, settings, fresh_database
):
    pieces = PieceJointeFactory.create_batch(2)
    backup = tmp_path / "sauvegarde"
    out = io.StringIO()

    call_command("sauvegarder", str(backup), stdout=out)

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["tables"]["candidatures_piecejointe"] == 2
    assert manifest["media"] == {piece.fichier.name: piece.sha256 for piece in pieces}
    assert manifest["database"]["sha256"] == sha256_of(backup / "base.dump")
    tables = manifest["database"]["tables"]
    assert out.getvalue() == (
        f"Sauvegarde écrite dans {backup} : {len(tables)} tables, {sum(tables.values())} lignes, "
        "2 fichiers.\n"
    )

    restored_media = tmp_path / "media-restauré"
    host = quote(fresh_database["host"], safe="")
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{fresh_database['user']}@{host}/{fresh_database['dbname']}",
        "MEDIA_ROOT": str(restored_media),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "restaurer", str(backup)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"Sauvegarde {backup} restaurée : lignes et empreintes conformes au manifeste.\n"
    )
    assert _counts(fresh_database) == tables
    assert {
        path.relative_to(restored_media).as_posix(): sha256_of(path)
        for path in restored_media.rglob("*")
        if path.is_file()
    } == manifest["media"]


def test_restore_refuses_a_database_that_is_not_empty(tmp_path):
    PieceJointeFactory()
    backup = tmp_path / "sauvegarde"
    call_command("sauvegarder", str(backup), stdout=io.StringIO())

    with pytest.raises(CommandError) as error:
        call_command("restaurer", str(backup))

    name = connection.settings_dict["NAME"]
    assert str(error.value) == (
        f"La base {name} n'est pas vide : la restauration se fait dans une base neuve."
    )


def test_restore_refuses_a_backup_whose_file_changed(tmp_path):
    piece = PieceJointeFactory()
    backup = tmp_path / "sauvegarde"
    call_command("sauvegarder", str(backup), stdout=io.StringIO())
    (backup / "media" / piece.fichier.name).write_bytes(b"autre chose")

    with pytest.raises(CommandError) as error:
        call_command("restaurer", str(backup))

    assert str(error.value) == "Les fichiers de la sauvegarde ne correspondent pas au manifeste."


def test_backup_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "déjà-là.txt").write_text("x")

    with pytest.raises(CommandError) as error:
        call_command("sauvegarder", str(tmp_path))

    assert str(error.value) == f"{tmp_path} existe et n'est pas vide."


def test_backup_from_an_s3_bucket_restores_into_another_empty_bucket(
    tmp_path, s3_storage, fresh_database
):
    """Several machines: the files live in the bucket; the backup copies them through the
    storage API, and a restore fills an empty bucket with the same keys and bytes."""
    pieces = PieceJointeFactory.create_batch(2)
    stored = s3_storage.objects()
    backup = tmp_path / "sauvegarde"

    call_command("sauvegarder", str(backup), stdout=io.StringIO())

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["media"] == {piece.fichier.name: piece.sha256 for piece in pieces}
    assert {
        path.relative_to(backup / "media").as_posix(): path.read_bytes()
        for path in (backup / "media").rglob("*")
        if path.is_file()
    } == stored

    restored_bucket = f"{s3_storage.name}-restore"
    s3_storage.client.create_bucket(
        Bucket=restored_bucket,
        CreateBucketConfiguration={"LocationConstraint": s3_storage.environ["S3_REGION"]},
    )
    host = quote(fresh_database["host"], safe="")
    env = {
        **os.environ,
        **s3_storage.environ,
        "S3_BUCKET": restored_bucket,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{fresh_database['user']}@{host}/{fresh_database['dbname']}",
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "restaurer", str(backup)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        listing = s3_storage.client.list_objects_v2(Bucket=restored_bucket).get("Contents", [])
        restored = {
            item["Key"]: s3_storage.client.get_object(Bucket=restored_bucket, Key=item["Key"])[
                "Body"
            ].read()
            for item in listing
        }
    finally:
        for key in s3_storage.client.list_objects_v2(Bucket=restored_bucket).get("Contents", []):
            s3_storage.client.delete_object(Bucket=restored_bucket, Key=key["Key"])
        s3_storage.client.delete_bucket(Bucket=restored_bucket)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"Sauvegarde {backup} restaurée : lignes et empreintes conformes au manifeste.\n"
    )
    assert restored == stored


def test_restore_refuses_a_bucket_that_is_not_empty(tmp_path, s3_storage, fresh_database):
    PieceJointeFactory()
    backup = tmp_path / "sauvegarde"
    call_command("sauvegarder", str(backup), stdout=io.StringIO())
    host = quote(fresh_database["host"], safe="")
    env = {
        **os.environ,
        **s3_storage.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{fresh_database['user']}@{host}/{fresh_database['dbname']}",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "restaurer", str(backup)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"CommandError: Le bucket {s3_storage.name} contient déjà des fichiers : il doit être vide."
    )
    assert _counts(fresh_database) == {}
