import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def server_tmp_path():
    """A temporary directory for an embedded PostgreSQL server of the test's own.

    Not under pytest's ``tmp_path``: under root the server runs as another system user, and
    every pytest session starting on the machine closes ``/tmp/pytest-of-root`` to others
    again, which made a server of a concurrent session unreachable mid-test.
    """
    path = Path(tempfile.mkdtemp(prefix="cerdd-pg-tests-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
