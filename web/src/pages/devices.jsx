// Devices: each one's state (online, offline, ...), last poll and error
// count (GET /devices, every 10 s); the chosen device's series with their
// live values (GET /series, then GET /live). A value is stale when it is
// older than three of its own update periods (or 5 min before a period is
// seen).
import { useEffect, useState } from "preact/hooks";
import { get, qs } from "../api.js";
import { openLive } from "../live.js";
import { fmtAgo, fmtNumber } from "../format.js";
import { t } from "../strings.js";

export function Devices() {
  const [devices, setDevices] = useState(null);
  const [error, setError] = useState("");
  const [chosen, setChosen] = useState(null);
  useEffect(() => {
    const read = () =>
      get("/devices")
        .then((d) => {
          setDevices(d);
          setError("");
        })
        .catch((e) => setError(e.message));
    read();
    const timer = setInterval(read, 10000);
    return () => clearInterval(timer);
  }, []);
  // The gateway away: what was read stays (marked stale by its age), with the error above.
  if (!devices) return <p class="pad">{error ? t("error_prefix", { message: error }) : t("loading")}</p>;
  return (
    <section>
      <h1>{t("devices_title")}</h1>
      {error && <p class="error" role="alert">{t("error_prefix", { message: error })}</p>}
      <div class="table-wrap">
        <table data-test="devices">
          <thead>
            <tr>
              <th scope="col">{t("devices_name")}</th>
              <th scope="col">{t("devices_state")}</th>
              <th scope="col">{t("devices_last_poll")}</th>
              <th scope="col">{t("devices_errors")}</th>
              <th scope="col">{t("devices_last_error")}</th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr class={chosen === d.name ? "chosen" : ""}>
                <th scope="row">
                  <button type="button" class="link" aria-pressed={chosen === d.name} onClick={() => setChosen(d.name)}>
                    {d.name}
                  </button>
                </th>
                <td>
                  <span class={"state state-" + d.state}>{t("state_" + d.state)}</span>
                </td>
                <td>{d.last_poll_ms ? fmtAgo(d.last_poll_ms) : "–"}</td>
                <td>{d.errors ?? "–"}</td>
                <td class="wrap">{d.last_error || ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {chosen && <LiveValues device={chosen} />}
    </section>
  );
}

function LiveValues({ device }) {
  const [rows, setRows] = useState({});
  const [state, setState] = useState("reconnecting");
  const [, tick] = useState(0);
  useEffect(() => {
    let live = true;
    setRows({});
    get("/series" + qs({ pattern: device + "/" })).then((list) => {
      if (!live) return;
      const r = {};
      for (const s of list)
        r[s.name] = { name: s.name, unit: s.unit, value: s.last_value, ts: s.last_time ? Date.parse(s.last_time) : 0, period: 0 };
      setRows(r);
    });
    // A panel sends hundreds of samples a second: they are kept here and
    // shown twice a second, one render for all of them.
    let pending = new Map();
    const close = openLive({
      series: [device + "/**"],
      onState: setState,
      onSample: (s) => pending.set(s.series, s),
    });
    const timer = setInterval(() => {
      const batch = pending;
      pending = new Map();
      if (batch.size)
        setRows((old) => {
          const next = { ...old };
          for (const s of batch.values()) {
            const was = old[s.series] || { name: s.series, unit: "" };
            const period = was.ts && s.ts > was.ts ? s.ts - was.ts : was.period || 0;
            next[s.series] = { ...was, value: s.value, ts: s.ts, period };
          }
          return next;
        });
      tick((n) => n + 1);
    }, 500);
    return () => {
      live = false;
      close();
      clearInterval(timer);
    };
  }, [device]);
  const now = Date.now();
  const list = Object.values(rows).sort((a, b) => a.name.localeCompare(b.name));
  return (
    <>
    {rows[device + "/branch01/current"] && <PanelGrid device={device} rows={rows} />}
    <section class="card" aria-live="off">
      <h2>
        {t("devices_values", { device })}{" "}
        <span class={"badge " + (state === "live" ? "good" : "bad")} data-test="live-state">
          {t(state === "live" ? "live_connected" : "live_reconnecting")}
        </span>
      </h2>
      <div class="table-wrap">
        <table data-test="live-values">
          <thead>
            <tr>
              <th scope="col">{t("devices_series")}</th>
              <th scope="col" class="num">{t("devices_value")}</th>
              <th scope="col">{t("devices_time")}</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => {
              const stale = !r.ts || now - r.ts > (r.period ? Math.max(3 * r.period, 5000) : 300000);
              return (
                <tr class={stale ? "stale" : ""} data-series={r.name}>
                  <th scope="row">{r.name.slice(device.length + 1)}</th>
                  <td class="num" data-test="value">
                    {fmtNumber(r.value)} {r.unit}
                  </td>
                  <td>
                    {r.ts ? fmtAgo(r.ts, now) : t("no_data")}
                    {stale && r.ts ? <span class="badge bad">{t("stale")}</span> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
    </>
  );
}

// A branch circuit monitor's panel (BCPM: branchNN/current against
// branchNN/breaker_size), drawn as a panel board: odd branches on the left,
// even on the right. A branch is coloured by its load in % of its breaker:
// under 60 %, under 80 %, under 100 %, and 100 % or more; grey without data.
function loadClass(pct) {
  if (pct === null) return "load-none";
  if (pct >= 100) return "load-over";
  if (pct >= 80) return "load-high";
  if (pct >= 60) return "load-mid";
  return "load-ok";
}

function PanelGrid({ device, rows }) {
  const [chosen, setChosen] = useState(null);
  const value = (ch, point) => rows[`${device}/branch${String(ch).padStart(2, "0")}/${point}`]?.value ?? null;
  let count = 0;
  while (rows[`${device}/branch${String(count + 1).padStart(2, "0")}/current`]) count++;
  const branches = [];
  for (let ch = 1; ch <= count; ch++) {
    const amps = value(ch, "current"), breaker = value(ch, "breaker_size");
    const pct = amps !== null && breaker ? (amps / breaker) * 100 : null;
    branches.push({ ch, amps, breaker, pct });
  }
  const detail = chosen && branches[chosen - 1];
  const points = ["current", "breaker_size", "kw", "pf", "kwh", "current_demand", "current_demand_max", "kw_demand"];
  return (
    <section class="card">
      <h2>{t("panel_title", { device, n: count })}</h2>
      <p class="muted">{t("panel_legend")}</p>
      <div class="panel" data-test="panel-grid">
        {branches.map((b) => (
          <button type="button" class={"branch " + loadClass(b.pct)} data-branch={b.ch} aria-pressed={chosen === b.ch}
            aria-label={t("panel_branch_label", { ch: b.ch, pct: b.pct === null ? t("no_data") : Math.round(b.pct) + " %" })}
            onClick={() => setChosen(b.ch)}>
            <span class="ch">{b.ch}</span>
            <span class="pct">{b.pct === null ? "–" : Math.round(b.pct) + "%"}</span>
          </button>
        ))}
      </div>
      {detail && (
        <div class="detail" data-test="branch-detail">
          <h3>{t("panel_branch", { ch: detail.ch })}</h3>
          <dl>
            {points.map((p) => {
              const r = rows[`${device}/branch${String(detail.ch).padStart(2, "0")}/${p}`];
              return r ? (
                <>
                  <dt>{p}</dt>
                  <dd>
                    {fmtNumber(r.value)} {r.unit}
                  </dd>
                </>
              ) : null;
            })}
          </dl>
        </div>
      )}
    </section>
  );
}
