"""Keyboard-only journeys: move the focus with Tab (or Shift+Tab) as a person who does not use
a mouse does, and check at each stop where something is done that the focus can be seen."""

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.demo import sign_in_link

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const labels = el.labels ? Array.from(el.labels, (label) => label.textContent) : [];
  const squash = (text) => (text || "").replace(/\\s+/g, " ").trim();
  return {
    names: [el.textContent, el.value, el.getAttribute("aria-label"), ...labels]
      .map(squash)
      .filter(Boolean),
    tag: el.tagName.toLowerCase(),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== "none",
    shown: box.width > 0 && box.height > 0 && el.checkVisibility(),
    focusVisible: el.matches(":focus-visible"),
  };
}"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED)


def assert_focus_visible(page) -> dict:
    """The focused element is on screen and drawn with a focus ring (an outline or a shadow)
    that the keyboard, not a click, brought (``:focus-visible``)."""
    info = focused(page)
    assert info is not None, "nothing has the focus"
    assert info["shown"], f"the focused {info['tag']} {info['names'][:1]} is not visible"
    assert info["focusVisible"], f"{info['names'][:1]} was not focused by the keyboard"
    assert info["outline"] or info["shadow"], f"{info['names'][:1]} shows no focus ring"
    return info


def tab_to(page, name: str, *, exact=False, backwards=False, limit=200) -> dict:
    """Press Tab (Shift+Tab ``backwards``) until the focused element's text, value or label
    contains ``name`` (equals it, ``exact``); the focus must be visible there."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        info = focused(page)
        names = info["names"] if info else []
        if any(candidate == name if exact else name in candidate for candidate in names):
            return assert_focus_visible(page)
    raise AssertionError(f"« {name} » never received the focus")


def enter_and_load(page) -> None:
    """Press Enter on the focused link or button and wait for the page it opens."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def type_lines(page, text: str) -> None:
    """Type ``text`` in the focused field, its line breaks with Enter (a textarea's)."""
    for number, line in enumerate(text.split("\n")):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)


def choose_file_in_focused_field(page, path: Path) -> None:
    """The focused field is a file field (reached by the keyboard, its focus visible): ``path``
    is picked in it, as a person does in the system's file dialog that Space opens.

    The dialog is the browser's, not the page's: headless Chromium opens it on Space only
    when the key press counts as a fresh user activation, which a loaded machine sometimes
    misses (a flaky 30 s timeout in CI). What the page owes the keyboard user is the field's
    place in the tab order and its visible focus, checked here."""
    field = page.locator("input[type=file]:focus")
    assert field.count() == 1, "the focus is not on a file field"
    assert_focus_visible(page)
    field.set_input_files(path)


def keyboard_sign_in_from_home(page, live_server, mailoutbox, address) -> None:
    """Home page → « Accéder à mon dossier » → the address → the link received, by keyboard."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/")
    tab_to(page, "Accéder à mon dossier")
    enter_and_load(page)
    tab_to(page, "Votre adresse e-mail")
    page.keyboard.type(address)
    enter_and_load(page)
    page.goto(sign_in_link(mailoutbox, address))


def keyboard_admin_sign_in(page, live_server, email, password) -> None:
    """The admin index, its login form, by keyboard."""
    page.context.clear_cookies()
    page.goto(live_server.url + "/admin/")
    tab_to(page, "Adresse e-mail")
    page.keyboard.type(email)
    tab_to(page, "Mot de passe")
    page.keyboard.type(password)
    enter_and_load(page)
    expect(page.get_by_text("Bienvenue,")).to_be_visible()
