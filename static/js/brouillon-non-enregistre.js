// A step left with typing not saved yet: the browser asks before the page goes (another step,
// the dossier, closing the tab). Saving, depositing or undoing the typing leaves freely.
(function () {
  "use strict";
  document.querySelectorAll("form[data-brouillon]").forEach(function (form) {
    const initial = new FormData(form);
    let submitting = false;

    function changed() {
      const now = new FormData(form);
      for (const [name, value] of now.entries()) {
        if (initial.getAll(name).join("\u0000") !== now.getAll(name).join("\u0000")) {
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
