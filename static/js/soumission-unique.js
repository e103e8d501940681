// A double click on « Déposer » sends one request; the server refuses a second one anyway.
(function () {
  "use strict";
  document.querySelectorAll("form button[data-once]").forEach(function (button) {
    button.form.addEventListener("submit", function () {
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = "Dépôt en cours…";
      }, 0);
    });
  });
})();
