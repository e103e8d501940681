// Tour de table: ←/→ and PageUp/PageDown (a presenter remote) follow the Précédent/Suivant
// links, so the page works the same with or without JavaScript.
(function () {
  "use strict";
  const keys = { ArrowRight: "next", PageDown: "next", ArrowLeft: "prev", PageUp: "prev" };
  document.addEventListener("keydown", function (event) {
    const rel = keys[event.key];
    if (!rel || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    const link = document.querySelector('.tour-nav a[rel="' + rel + '"]');
    if (link) {
      event.preventDefault();
      window.location.assign(link.href);
    }
  });
})();
