import html
import re


def page_text(response) -> str:
    """A response's HTML with entities decoded and white space folded, for exact assertions."""
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))
