// Character counters under long answers (textarea[data-compteur] with a maxlength).
(function () {
  "use strict";
  document.querySelectorAll("textarea[data-compteur]").forEach(function (area) {
    const max = parseInt(area.getAttribute("maxlength"), 10);
    const counter = document.createElement("p");
    counter.className = "form-text compteur";
    counter.setAttribute("aria-live", "polite");
    counter.id = area.id + "-compteur";
    area.insertAdjacentElement("afterend", counter);
    const describedBy = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + counter.id);
    function update() {
      counter.textContent = area.value.length + " / " + max + " caractères";
    }
    area.addEventListener("input", update);
    update();
  });
})();
