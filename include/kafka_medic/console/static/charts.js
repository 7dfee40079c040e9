// The cluster page's balance-over-time charts: uPlot over the status rows the page carries inline as JSON
// (#history: columns at, balancedness, <resource>_max_pct, <resource>_mean_pct). One chart per .chart element, over
// its data-span seconds before the newest row. Each chart records how many points it drew in data-points,
// so a test (and a person with devtools) can tell a chart with data from an empty canvas.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("history");
    if (!source || typeof uPlot === "undefined") return;
    var h = JSON.parse(source.textContent);
    var resources = ["disk", "nw_in", "nw_out", "cpu"];
    var colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
    var newest = h.at[h.at.length - 1];
    document.querySelectorAll(".chart").forEach(function (el) {
      var since = newest - Number(el.dataset.span);
      var first = h.at.findIndex(function (t) { return t >= since; });
      var cut = function (column) { return column.slice(first); };
      var data = [cut(h.at), cut(h.balancedness)];
      var series = [{}, {label: "balancedness", stroke: "#000", width: 2, scale: "balance"}];
      resources.forEach(function (r, i) {
        data.push(cut(h[r + "_max_pct"]), cut(h[r + "_mean_pct"]));
        series.push({label: r + " max %", stroke: colours[i], width: 1.5, scale: "%"},
                    {label: r + " mean %", stroke: colours[i], dash: [4, 4], width: 1, scale: "%"});
      });
      new uPlot({
        title: el.dataset.title, width: 640, height: 280, series: series,
        scales: {balance: {range: [0, 100]}, "%": {range: [0, 100]}},
        axes: [{}, {scale: "balance", label: "balancedness"}, {scale: "%", side: 1, label: "% of capacity",
               grid: {show: false}}]
      }, data, el);
      el.dataset.points = String(data[0].length);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
