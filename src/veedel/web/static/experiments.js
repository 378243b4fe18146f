/* veedel experiment pages: draws the Vega-Lite charts whose specs sit in the page. */
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("[data-spec-id]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-spec-id"));
      if (!source || typeof vegaEmbed !== "function") { return; }
      var spec = JSON.parse(source.textContent);
      vegaEmbed(target, spec, { actions: false, renderer: "svg" })
        .then(function () { target.setAttribute("data-rendered", "true"); })
        .catch(function (error) { target.setAttribute("data-error", String(error)); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
