// Character counters under long answers (textarea[data-compteur] with a maxlength, and
// data-min-caracteres when the question asks for a minimum):
//   « 120 caractères — encore 380 pour atteindre le minimum de 500 », then « 620 / 3 000 caractères ».
// The count is the server's: the text without its surrounding blanks, a line break or an
// emoji one character each (candidatures/questionnaires/forms.py, Candidature.missing_items).
// Sighted users see the count change at each keystroke; screen readers hear it once typing
// pauses (a polite live region updated a second after the last input), not at each key.
(function () {
  "use strict";
  const PAUSE_MS = 1000;
  const NNBSP = "\u202f"; // as cerdd_ami/formats.py format_integer_fr

  function number(value) {
    return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, NNBSP);
  }

  function caracteres(count) {
    return count < 2 ? "caractère" : "caractères";
  }

  function message(length, min, max) {
    if (min && length < min) {
      return (
        number(length) + " " + caracteres(length) + " — encore " + number(min - length) +
        " pour atteindre le minimum de " + number(min)
      );
    }
    const text = number(length) + " / " + number(max) + " caractères";
    return length > max ? text + " — " + number(length - max) + " de trop" : text;
  }

  document.querySelectorAll("textarea[data-compteur]").forEach(function (area) {
    const max = parseInt(area.getAttribute("maxlength"), 10);
    const min = parseInt(area.getAttribute("data-min-caracteres") || "0", 10);
    // What the eye reads, at once; hidden from screen readers, which read the status below.
    const counter = document.createElement("p");
    counter.className = "form-text compteur";
    counter.id = area.id + "-compteur";
    counter.setAttribute("aria-hidden", "true");
    const status = document.createElement("p");
    status.className = "visually-hidden";
    status.id = area.id + "-compteur-statut";
    status.setAttribute("aria-live", "polite");
    area.insertAdjacentElement("afterend", counter);
    counter.insertAdjacentElement("afterend", status);
    const describedBy = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + status.id);

    let pending = null;
    function text() {
      return message(Array.from(area.value.trim()).length, min, max);
    }
    area.addEventListener("input", function () {
      counter.textContent = text();
      window.clearTimeout(pending);
      pending = window.setTimeout(function () {
        status.textContent = text();
      }, PAUSE_MS);
    });
    counter.textContent = status.textContent = text();
  });
})();
