/* Kesher console: the manager's dashboard (console/templates/console/dashboard.html).
 *
 * The server renders every number and word; this script only draws the charts it
 * describes in #dashboard-data (Chart.js, vendored under static/vendor/chartjs) and
 * keeps the filter form's URL short. In a right-to-left page the charts read from the
 * right: the category and time axes run right to left, the value axis stands on the
 * right, and legends and tooltips are laid out right to left.
 */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const rtl = data.dir === "rtl";
  const COLOURS = ["#1f6feb", "#e8833a", "#1b8a3a", "#c62828", "#8250df", "#6e7781"];
  const PART = ["#1f6feb", "#aab4c3"];

  // The filter form: dates only for a custom period, empty filters left out of the URL.
  const form = document.getElementById("dash-filters");
  const period = document.getElementById("dash-period");
  const dates = [document.getElementById("dash-from"), document.getElementById("dash-to")];
  dates.forEach((input) => input.addEventListener("change", () => { period.value = "custom"; }));
  form.addEventListener("submit", () => {
    form.querySelectorAll("input, select").forEach((field) => {
      const isDate = dates.includes(field);
      if (!field.value || (isDate && period.value !== "custom")) {
        field.disabled = true;
      }
    });
  });
  // Coming back to the page (history), the fields must be usable again.
  window.addEventListener("pageshow", () => form.querySelectorAll("[disabled]").forEach((f) => { f.disabled = false; }));

  if (typeof window.Chart === "undefined") {
    return;
  }
  const Chart = window.Chart;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1d2330";

  // A long category name on lines of its own, so a narrow chart does not cut it.
  function lines(label) {
    const out = [];
    String(label).split(" ").forEach((word) => {
      const last = out.length - 1;
      if (last >= 0 && (out[last] + " " + word).length <= 14) {
        out[last] += " " + word;
      } else {
        out.push(word);
      }
    });
    return out;
  }

  function legend(show) {
    return {display: show, rtl: rtl, textDirection: data.dir, position: "bottom"};
  }

  function config(spec) {
    const tooltip = {rtl: rtl, textDirection: data.dir};
    const common = {responsive: true, maintainAspectRatio: false, animation: false, locale: data.lang};
    if (spec.type === "doughnut") {
      return {
        type: "doughnut",
        data: {labels: spec.labels, datasets: [{data: spec.series[0].data, backgroundColor: PART, borderWidth: 1}]},
        options: Object.assign(common, {plugins: {legend: legend(true), tooltip: tooltip}}),
      };
    }
    const many = spec.series.length > 1;
    const datasets = spec.series.map((s, i) => ({
      label: s.label,
      data: s.data,
      backgroundColor: COLOURS[i % COLOURS.length],
      borderColor: COLOURS[i % COLOURS.length],
      borderWidth: spec.type === "line" ? 2 : 0,
      pointRadius: spec.type === "line" ? 3 : 0,
      tension: 0.2,
    }));
    const horizontal = spec.type === "hbar";
    // offset: the first and last day's labels stand inside the chart instead of being cut at its edges
    const category = {reverse: rtl, offset: true, ticks: {autoSkip: true}};
    const value = {beginAtZero: true, ticks: {precision: 0}};
    const scales = horizontal
      ? {x: Object.assign(value, {reverse: rtl}), y: {position: rtl ? "right" : "left"}}
      : {x: category, y: Object.assign(value, {position: rtl ? "right" : "left"})};
    return {
      type: spec.type === "line" ? "line" : "bar",
      data: {labels: horizontal ? spec.labels.map(lines) : spec.labels, datasets: datasets},
      options: Object.assign(common, {
        indexAxis: horizontal ? "y" : "x",
        scales: scales,
        plugins: {legend: legend(many || spec.type === "line"), tooltip: tooltip},
      }),
    };
  }

  Object.keys(data.charts).forEach((id) => {
    const canvas = document.getElementById(id);
    if (canvas) {
      canvas.dataset.drawn = String(Boolean(new Chart(canvas, config(data.charts[id]))));
    }
  });
})();
