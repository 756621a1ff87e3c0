// Progressive enhancement of the console's server-rendered pages: draws each chart whose data the
// page carries (<canvas data-chart="ID"> + <script type="application/json" id="ID">) with the
// vendored Chart.js. Without JavaScript every chart's figures are still in a table beside it.
(function () {
  "use strict";
  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var percent = spec.percent === true;
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, max: percent ? 100 : undefined, ticks: { precision: 0 } } },
        plugins: { legend: { display: spec.datasets.length > 1 } }
      }
    });
    canvas.setAttribute("data-rendered", chart.data.datasets.length ? "true" : "empty");
  }
  function start() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) { draw(canvases[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
}());
