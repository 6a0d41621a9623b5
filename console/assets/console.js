// citycard console: draws each <canvas data-chart="{...}"> with Chart.js.
// The figures are also in a table beside each chart; this only draws.
(function () {
  "use strict";
  var colours = ["#1f6feb", "#bf8700", "#1a7f37", "#cf222e", "#8250df"]; // five: one per application
  function yuan(fen) {
    // The sign before the symbol, as the tables write it: -¥0.50.
    return (fen < 0 ? "-" : "") + "\u00a5" + (Math.abs(fen) / 100).toLocaleString("en", {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }
  function draw(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (c) {
      if (c.dataset.drawn) { return; }
      var spec = JSON.parse(c.dataset.chart);
      var money = spec.datasets.some(function (d) { return d.yuan; });
      new Chart(c, {
        type: spec.type,
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (d, i) {
            return {label: d.label, data: d.data, backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length], maxBarThickness: 56};
          })
        },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          scales: {y: {beginAtZero: true, ticks: money ? {callback: function (v) { return yuan(v); }} : {precision: 0}}},
          plugins: {tooltip: money ? {callbacks: {label: function (ctx) { return ctx.dataset.label + ": " + yuan(ctx.parsed.y); }}} : {}}
        }
      });
      c.dataset.drawn = "1";
    });
    document.body.dataset.chartsDrawn = "1";
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target); });
})();
