import pytest

from tests.browser.demo import DEMO_PARTICIPANT
from tests.demo_snapshot import restore


@pytest.fixture
def demo(demo_snapshot, transactional_db, settings) -> str:
    """The demo as ``make run`` loads it, for a browser test: the one seed of this test process
    (tests/demo_snapshot.py) restored after Django reloaded the test's initial rows, files
    under the test's ``MEDIA_ROOT``. Returns the participant's address ``make run`` prints."""
    output = restore(demo_snapshot, media_root=settings.MEDIA_ROOT)
    return DEMO_PARTICIPANT.search(output).group(1)
