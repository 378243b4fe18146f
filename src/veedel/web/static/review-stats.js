// The image filter figures page: draws the tuning chart whose spec is in the page.
(function () {
  "use strict";
  const target = document.getElementById("tuning-chart");
  const source = document.getElementById("tuning-spec");
  if (!target || !source || typeof vegaEmbed !== "function") return;
  vegaEmbed(target, JSON.parse(source.textContent), { actions: false, renderer: "svg" })
    .then(() => target.setAttribute("data-rendered", "true"))
    .catch((error) => target.setAttribute("data-error", String(error)));
})();
