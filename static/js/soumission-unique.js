// A double click on « Déposer » sends one request; the server refuses a second one anyway.
// Only that button's own press counts: « Enregistrer le brouillon » in the same form stays as is.
(function () {
  "use strict";
  document.querySelectorAll("form button[data-once]").forEach(function (button) {
    button.form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter !== button) {
        return;
      }
      // After this tick, so that the button's name still goes with the form.
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = "Dépôt en cours…";
      }, 0);
    });
  });
})();
