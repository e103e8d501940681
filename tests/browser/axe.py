"""axe-core in the browser tests: every page a journey visits must pass WCAG 2.1 AA (RGAA)."""

from axe_playwright_python.sync_playwright import Axe

AXE = Axe()
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def assert_accessible(page):
    """Fail with the violated rules and their elements if axe-core finds any on ``page``."""
    results = AXE.run(page, options=WCAG_AA)
    violations = [
        f"{violation['id']}: {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
    ]
    assert violations == [], f"{page.url}: {violations}"
