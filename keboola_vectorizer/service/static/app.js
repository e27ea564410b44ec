// Progressive enhancement only: the page works without this file (server-rendered results).
// With it, results follow the search box as you type and the address stays a shareable /?q= link.
(function () {
  "use strict";
  // A lineage picture wider than the screen opens scrolled to the object itself, not its far left.
  var graph = document.querySelector(".graph");
  var root = graph && graph.querySelector(".root rect");
  if (root && graph.scrollWidth > graph.clientWidth) {
    var x = parseFloat(root.getAttribute("x")) + parseFloat(root.getAttribute("width")) / 2;
    graph.scrollLeft = Math.max(0, x - graph.clientWidth / 2);
  }

  var form = document.getElementById("search-form");
  var box = document.getElementById("q");
  var area = document.getElementById("results-area");
  if (!form || !box || !area || !window.fetch) return;
  var timer = null, latest = 0;

  function params() {
    var data = new URLSearchParams(new FormData(form));
    if (!data.get("q")) data.delete("q");
    return data;
  }

  function refresh() {
    var data = params(), ticket = ++latest;
    var query = data.toString();
    fetch("/partials/results" + (query ? "?" + query : ""), {credentials: "same-origin"})
      .then(function (response) {
        if (response.status === 401) { window.location.href = "/key?next=" + encodeURIComponent("/?" + query); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null || ticket !== latest) return;  // a newer keystroke won
        area.innerHTML = html;
        window.history.replaceState(null, "", "/" + (query ? "?" + query : ""));
        document.title = (data.get("q") ? data.get("q") + " – " : "") + "Keboola search";
      })
      .catch(function () { /* the form still submits normally */ });
  }

  box.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 220);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    refresh();
  });
})();
