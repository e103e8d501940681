// Progressive enhancement of the collectivité picker: results update while typing.
// Without JavaScript the search form submits and the page shows the same results.
(function () {
  "use strict";
  const form = document.querySelector("form.recherche-collectivite");
  if (!form) return;
  const input = form.querySelector("input[name=q]");
  let timer = null;
  let controller = null;

  function refresh() {
    const query = input.value.trim();
    if (query.length < 2) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const url = form.dataset.fragmentUrl + "&q=" + encodeURIComponent(query);
    fetch(url, { signal: controller.signal, headers: { "X-Requested-With": "fetch" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        // Swap the content, not the live region itself, so screen readers announce it.
        const parsed = new DOMParser().parseFromString(html, "text/html");
        document.getElementById("resultats").innerHTML =
          parsed.getElementById("resultats").innerHTML;
      })
      .catch(() => {});
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
})();
