// Draws the charts of a gradhooks report with uPlot, from the JSON in #report-data.
// Runs in the browser as an inline script; the page loads nothing else.
(() => {
  'use strict';

  const specs = JSON.parse(document.getElementById('report-data').textContent).charts;
  const plots = [];

  /** Formats a value for the legend: up to 4 significant digits. */
  const formatValue = (value) => {
    if (value === null || value === undefined) {
      return '-';
    }
    if (Number.isInteger(value) && Math.abs(value) < 1e9) {
      return String(value);
    }
    return String(Number(value.toPrecision(4)));
  };

  const markDrawn = (element) => {
    if (element.dataset.drawn !== 'true') {
      element.dataset.drawn = 'true';
      const drawn = document.querySelectorAll('.plot[data-drawn="true"]').length;
      document.documentElement.dataset.chartsDrawn = String(drawn);
    }
  };

  const chartOptions = (spec, element) => {
    const y = spec.yLog ? { distr: 3, log: 10 } : {};
    if (!spec.yLog && spec.yRange) {
      y.range = spec.yRange;
    }
    const scales = { x: { time: false }, y };
    const axisStyle = { stroke: '#333', grid: { stroke: '#e6e6e6', width: 1 }, ticks: { stroke: '#ccc', width: 1 } };
    const axes = [
      { ...axisStyle, label: spec.xLabel },
      { ...axisStyle, label: spec.yLabel, scale: 'y', size: 64 },
    ];
    if (spec.y2Label !== undefined) {
      scales.y2 = spec.y2Range ? { range: spec.y2Range } : {};
      axes.push({ ...axisStyle, label: spec.y2Label, scale: 'y2', side: 1, size: 56, grid: { show: false } });
    }
    const series = [{ label: spec.xLabel, value: (plot, value) => formatValue(value) }];
    for (const entry of spec.series) {
      const line = {
        label: entry.label,
        stroke: entry.color,
        width: 2,
        scale: entry.scale || 'y',
        spanGaps: true,
        value: (plot, value) => formatValue(value),
        points: { show: Boolean(entry.markers), size: 6, fill: entry.color, stroke: entry.color },
      };
      if (entry.dash) {
        line.dash = [8, 5];
      }
      if (entry.stepped) {
        line.paths = uPlot.paths.stepped({ align: 1 });
      }
      series.push(line);
    }
    return {
      width: Math.max(320, element.clientWidth),
      height: spec.height || 260,
      scales,
      axes,
      series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [() => markDrawn(element)] },
    };
  };

  for (const spec of specs) {
    const element = document.querySelector(`.plot[data-chart="${CSS.escape(spec.id)}"]`);
    if (element === null) {
      console.error(`gradhooks report: no element for chart ${spec.id}`);
      continue;
    }
    try {
      const data = [spec.x, ...spec.series.map((entry) => entry.values)];
      plots.push({ plot: new uPlot(chartOptions(spec, element), data, element), element, spec });
    } catch (error) {
      element.textContent = `This chart could not be drawn: ${error}`;
      console.error(`gradhooks report: chart ${spec.id} failed`, error);
    }
  }

  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const { plot, element, spec } of plots) {
        plot.setSize({ width: Math.max(320, element.clientWidth), height: spec.height || 260 });
      }
    }, 100);
  });
  document.documentElement.dataset.chartsExpected = String(specs.length);
})();
