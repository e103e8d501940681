// A step left with typing not saved yet: the browser asks before the page goes (another step,
// the dossier, closing the tab). Saving, depositing or undoing the typing leaves freely.
(function () {
  "use strict";
  document.querySelectorAll("form[data-brouillon]").forEach(function (form) {
    // What the server sent, not what the form holds when this script runs: someone may have
    // typed already while the page was still loading (a slow connection, a busy machine).
    const pristine = form.cloneNode(true);
    pristine.reset();
    const initial = new FormData(pristine);
    let submitting = false;

    // A chosen file counts by its name and size (every File reads "[object File]").
    function values(data, name) {
      return data
        .getAll(name)
        .map(function (value) {
          return value instanceof File ? "fichier:" + value.name + ":" + value.size : value;
        })
        .join("\u0000");
    }

    function changed() {
      const now = new FormData(form);
      for (const name of now.keys()) {
        if (values(initial, name) !== values(now, name)) {
          return true;
        }
      }
      for (const name of initial.keys()) {
        if (!now.has(name)) {
          return true;
        }
      }
      return false;
    }

    form.addEventListener("submit", function () {
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (!submitting && changed()) {
        event.preventDefault();
        // Older browsers show the dialog only when a value is set.
        event.returnValue = "";
      }
    });
  });
})();
