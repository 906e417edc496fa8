// Trends: any series (chosen from GET /series by pattern), several on one
// chart, over a range; the step is chosen so that a range holds about 1,000
// points (the API reads the store's rollups for the coarse steps), so a
// year draws as fast as an hour. Drag to zoom in, double-click to zoom out.
import { useEffect, useState } from "preact/hooks";
import { get, qs } from "../api.js";
import { Chart } from "../chart.jsx";
import { t } from "../strings.js";

const RANGES = [
  ["1h", 3600], ["6h", 6 * 3600], ["24h", 86400], ["7d", 7 * 86400], ["30d", 30 * 86400], ["1y", 365 * 86400],
];
const STEPS = [["1s", 1], ["10s", 10], ["1m", 60], ["5m", 300], ["15m", 900], ["1h", 3600], ["day", 86400]];

// The finest step that keeps the range under about 1,000 points (raw under 2 h).
export function stepFor(seconds) {
  if (seconds <= 2 * 3600) return "";
  for (const [name, s] of STEPS) if (seconds / s <= 1000) return name;
  return "day";
}

function initialSeries() {
  const p = new URLSearchParams(location.hash.split("?")[1] || "");
  return (p.get("series") || "").split(",").filter(Boolean);
}

export function Trends() {
  const [chosen, setChosen] = useState(initialSeries);
  const [pattern, setPattern] = useState("");
  const [found, setFound] = useState([]);
  const [window_, setWindow] = useState({ seconds: 3600, to: null }); // to: null is now
  const [data, setData] = useState(null);
  const [error, setError] = useState("");

  // Every series once; "Find" keeps those whose name holds the text (any
  // case), or matches it as a pattern when it has a * or ?.
  const [all, setAll] = useState([]);
  useEffect(() => {
    get("/series")
      .then((list) => setAll(list))
      .catch((e) => setError(e.message));
  }, []);
  useEffect(() => {
    const text = pattern.trim().toLowerCase();
    let match = (n) => n.toLowerCase().includes(text);
    if (/[*?]/.test(text)) {
      const re = new RegExp("^" + text.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\u0000")
        .replace(/\*/g, "[^/]*").replace(/\u0000/g, ".*").replace(/\?/g, "[^/]") + "$");
      match = (n) => re.test(n.toLowerCase());
    }
    setFound(all.filter((s) => !text || match(s.name)).slice(0, 300));
  }, [pattern, all]);

  useEffect(() => {
    if (!chosen.length) return setData(null);
    let live = true;
    const read = async () => {
      const toS = window_.to ?? Date.now() / 1000;
      const fromS = toS - window_.seconds;
      const step = stepFor(window_.seconds);
      try {
        const answers = await Promise.all(
          chosen.map((name) =>
            get("/query" + qs({ pattern: name, from: "@" + Math.round(fromS * 1000), to: "@" + Math.round(toS * 1000),
              step, agg: step ? "avg" : "", format: "json" }))),
        );
        // One x axis for all: the union of the times.
        const times = new Set();
        const bySeries = answers.map((a) => {
          const m = new Map();
          for (const p of a[0]?.points || []) {
            times.add(p.ts_ms);
            m.set(p.ts_ms, p.value);
          }
          return { m, unit: a[0]?.unit || "" };
        });
        const x = [...times].sort((a, b) => a - b);
        if (live)
          setData({
            x: [x.map((ms) => ms / 1000), ...bySeries.map((s) => x.map((ms) => s.m.get(ms) ?? null))],
            units: bySeries.map((s) => s.unit),
            names: chosen.slice(),  // the series these columns are, whatever is ticked meanwhile
            step,
          });
        setError("");
      } catch (e) {
        if (live) setError(e.message);
      }
    };
    read();
    const timer = window_.to === null ? setInterval(read, 10000) : null;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [chosen.join(","), window_.seconds, window_.to]);

  const toggle = (name) => setChosen(chosen.includes(name) ? chosen.filter((n) => n !== name) : [...chosen, name].slice(-8));
  return (
    <section>
      <h1>{t("trends_title")}</h1>
      <div class="card filters">
        <label>
          {t("trends_find")}
          <input name="pattern" value={pattern} placeholder="panel1/mains/*" onInput={(e) => setPattern(e.target.value)} />
        </label>
        <div role="group" aria-label={t("trends_range")} class="buttons">
          {RANGES.map(([name, s]) => (
            <button type="button" class={window_.seconds === s && window_.to === null ? "" : "secondary"}
              aria-pressed={window_.seconds === s && window_.to === null} onClick={() => setWindow({ seconds: s, to: null })}>
              {name}
            </button>
          ))}
        </div>
      </div>
      {error && <p class="error" role="alert">{t("error_prefix", { message: error })}</p>}
      <div class="trends">
        <ul class="card series-list" aria-label={t("trends_series")}>
          {found.length === 0 && <li class="muted">{all.length ? t("trends_no_match") : t("loading")}</li>}
          {found.map((s) => (
            <li>
              <label class="check">
                <input type="checkbox" checked={chosen.includes(s.name)} onChange={() => toggle(s.name)} />
                {s.name} {s.unit ? `(${s.unit})` : ""}
              </label>
            </li>
          ))}
        </ul>
        <div class="card chart-card">
          {!chosen.length ? (
            <p>{t("trends_pick")}</p>
          ) : !data ? (
            <p>{t("loading")}</p>
          ) : (
            <>
              <p class="muted" data-test="trend-step">
                {data.step ? t("trends_step", { step: data.step }) : t("trends_raw")} · {t("trends_zoom_help")}
              </p>
              <Chart data={data.x} series={data.names.map((name, i) => ({ label: name, unit: data.units[i] }))}
                label={t("trends_title")}
                onSelect={(from, to) => setWindow({ seconds: Math.max(60, to - from), to })}
                onZoomOut={() => setWindow({ seconds: Math.min(window_.seconds * 4, 365 * 86400), to: window_.to })} />
            </>
          )}
        </div>
      </div>
    </section>
  );
}
