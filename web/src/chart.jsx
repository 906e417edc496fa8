// A uPlot chart in a Preact component: lines (trends) or bars
// (consumption), resized with its box. `data` is uPlot's columns: x in
// seconds, then one array per series. `onSelect(from_s, to_s)` hears a range
// dragged with the mouse (zoom); a double click asks to zoom out.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { siteZone } from "./format.js";

const COLORS = ["#0b5cad", "#b3261e", "#116329", "#8a5a00", "#6f42c1", "#00707a", "#9a3412", "#4b5563"];

// Stacked bars: series i is drawn as the sum of series 0..i, the largest
// first, so that each shows its own part; the legend says each one's value.
function stack(data) {
  const [x, ...raw] = data;
  const sums = [];
  let run = x.map(() => null);
  for (const col of raw) {
    run = run.map((v, j) => (col[j] === null || col[j] === undefined ? v : (v || 0) + col[j]));
    sums.push(run);
  }
  return [x, ...sums.reverse()];
}

export function Chart({ data, series, bars = false, stacked = false, height = 320, onSelect, onZoomOut, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  const raw = useRef(data);
  raw.current = data;
  const shown = (d) => (bars && stacked ? stack(d) : d);
  const order = bars && stacked ? series.map((_, i) => series.length - 1 - i) : series.map((_, i) => i);
  useEffect(() => {
    if (!box.current) return undefined;
    const el = box.current;
    const opts = {
      width: el.clientWidth || 600,
      height,
      cursor: { drag: { x: !!onSelect, y: false, setScale: false } },
      legend: { live: true },
      scales: { x: { time: true } },
      // The time axis in the site's zone, not the browser's.
      tzDate: (ts) => (siteZone() ? uPlot.tzDate(new Date(ts * 1000), siteZone()) : new Date(ts * 1000)),
      axes: [{}, { size: 70 }],
      series: [
        {},
        ...order.map((i) => {
          const s = series[i];
          return {
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            fill: bars ? COLORS[i % COLORS.length] + "cc" : undefined,
            width: bars ? 1 : 1.5,
            paths: bars ? uPlot.paths.bars({ size: [0.8, 60], align: 0 }) : undefined,
            points: { show: false },
            value: (u, v, si, idx) => {
              const own = idx === null || idx === undefined ? v : raw.current[i + 1]?.[idx];
              return own === null || own === undefined
                ? "–"
                : own.toLocaleString(undefined, { maximumFractionDigits: 3 }) + (s.unit ? " " + s.unit : "");
            },
          };
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (!onSelect || u.select.width < 5) return;
            const from = u.posToVal(u.select.left, "x"), to = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
            onSelect(from, to);
          },
        ],
      },
    };
    plot.current = new uPlot(opts, shown(data), el);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    const zoomOut = () => onZoomOut?.();
    el.addEventListener("dblclick", zoomOut);
    return () => {
      resize.disconnect();
      el.removeEventListener("dblclick", zoomOut);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.map((s) => s.label).join("|"), bars, stacked, height]);
  useEffect(() => {
    plot.current?.setData(shown(data));
  }, [data]);
  return <div class="chart" ref={box} role="img" aria-label={label} data-test="chart" />;
}
