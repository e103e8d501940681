"""What a browser would send for a rendered form: its fields read from the page's HTML.

Tests that POST a form back "as the browser sends it" build the data from the page itself, so
a field the test author forgot (an inline's management form, a hidden field, a radio's current
value) is sent all the same, and a field the page does not render is not invented.
"""

from html.parser import HTMLParser

SKIPPED_INPUT_TYPES = {"submit", "button", "image", "reset", "file"}


class _FormParser(HTMLParser):
    def __init__(self, form_id: str | None):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.found = False
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.submits: list[tuple[str, str]] = []
        self._textarea: tuple[str, list[str]] | None = None
        self._select: dict | None = None
        self._option: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: (value if value is not None else "") for name, value in attrs}
        if tag == "form":
            if not self.found and (self.form_id is None or attributes.get("id") == self.form_id):
                self.found = self.inside = True
            return
        if not self.inside:
            return
        name = attributes.get("name")
        disabled = "disabled" in attributes
        if tag == "input" and name and not disabled:
            kind = attributes.get("type", "text").lower()
            if kind == "submit":
                self.submits.append((name, attributes.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in attributes:
                    self.fields.append((name, attributes.get("value", "on")))
            elif kind not in SKIPPED_INPUT_TYPES:
                self.fields.append((name, attributes.get("value", "")))
        elif tag == "button" and name and not disabled:
            if attributes.get("type", "submit").lower() == "submit":
                self.submits.append((name, attributes.get("value", "")))
        elif tag == "textarea" and name and not disabled:
            self._textarea = (name, [])
        elif tag == "select" and name and not disabled:
            self._select = {"name": name, "multiple": "multiple" in attributes, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = {
                "value": attributes.get("value"),
                "selected": "selected" in attributes,
                "text": [],
            }
            self._select["options"].append(self._option)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            # HTML drops the newline right after <textarea> (Django's widget writes one).
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            self.fields.append((name, text))
            self._textarea = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            self._close_select()

    def _close_select(self):
        select, self._select, self._option = self._select, None, None
        options = select["options"]
        for option in options:
            if option["value"] is None:
                option["value"] = " ".join("".join(option["text"]).split())
        chosen = [option for option in options if option["selected"]]
        if not select["multiple"] and not chosen and options:
            chosen = [options[0]]  # a single select always sends one value
        if not select["multiple"]:
            chosen = chosen[-1:]
        self.fields.extend((select["name"], option["value"]) for option in chosen)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None:
            self._option["text"].append(data)


class FormNotFound(AssertionError):
    pass


def parse_form(content: str | bytes, form_id: str | None = None) -> "RenderedForm":
    """The form with this id (or the page's first form) as the browser would submit it."""
    if isinstance(content, bytes):
        content = content.decode()
    parser = _FormParser(form_id)
    parser.feed(content)
    parser.close()
    if not parser.found:
        raise FormNotFound(f"Pas de formulaire {form_id or ''} dans la page.")
    return RenderedForm(parser.fields, parser.submits)


class RenderedForm:
    def __init__(self, fields: list[tuple[str, str]], submits: list[tuple[str, str]]):
        self.fields = fields
        self.submits = submits

    def data(self, submit: str | None = None, **changes) -> dict[str, str | list[str]]:
        """The POST data: every field's value(s), ``changes`` applied, the pressed button's name.

        Django's test client sends a list as repeated values, as a browser does for a multiple
        select or several checked boxes of one name.
        """
        data: dict[str, list[str]] = {}
        for name, value in self.fields:
            data.setdefault(name, []).append(value)
        result: dict[str, str | list[str]] = {
            name: values[0] if len(values) == 1 else values for name, values in data.items()
        }
        result.update(changes)
        if submit is not None:
            value = dict(self.submits).get(submit)
            if value is None:
                raise FormNotFound(f"Pas de bouton « {submit} » dans le formulaire.")
            result[submit] = value
        return result
