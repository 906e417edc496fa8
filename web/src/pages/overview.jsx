// The overview: active alarms by criticality, the devices offline, today's
// energy (GET /consumption, when the site has a model), each Green'Up area
// and its sessions (GET /ev) and each demand limit's running interval (GET
// /demand). Read again every 10 s, and at once when an alarm event comes.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api.js";
import { openLive } from "../live.js";
import { fmtNumber } from "../format.js";
import { t } from "../strings.js";

const CRITICALITIES = ["critical", "non_critical", "information"];

async function readAll() {
  const settle = (p) => p.then((v) => v, () => null);
  const [alarms, devices, ev, demand, energy] = await Promise.all([
    settle(get("/alarms?status=open&limit=1000")),
    settle(get("/devices")),
    settle(get("/ev")),
    settle(get("/demand")),
    settle(get("/consumption?by=total&period=day&from=today&format=json")),
  ]);
  return { alarms, devices, ev, demand, energy };
}

// The site's power now, as the consumption engine counts the total: the
// electricity points not excluded from totals, each by its `power` series, a
// virtual one as Σ plus − Σ minus of its points. null when a needed value
// is missing (the names in `missing`).
export function sitePower(model, values) {
  const byName = new Map(model.points.map((p) => [p.name, p]));
  const missing = new Set();
  const power = (p, depth = 0) => {
    if (!p || depth > 32) return null;
    if (p.virtual) {
      let sum = 0;
      for (const [names, sign] of [[p.plus, 1], [p.minus, -1]])
        for (const n of names) {
          const v = power(byName.get(n), depth + 1);
          if (v === null) return null;
          sum += sign * v;
        }
      return sum;
    }
    const v = p.power ? values[p.power] : undefined;
    if (v === undefined || v === null) {
      missing.add(p.name);
      return null;
    }
    return v;
  };
  let total = 0;
  let any = false;
  for (const p of model.points) {
    if (p.exclude_from_totals || p.fluid !== "electricity") continue;
    const v = power(p);
    if (v === null) return { kw: null, missing: [...missing] };
    total += v;
    any = true;
  }
  return { kw: any ? total : null, missing: [...missing] };
}

// The power series a model needs, for the live stream.
function powerSeries(model) {
  return [...new Set(model.points.filter((p) => p.power).map((p) => p.power))];
}

function SitePower() {
  const [model, setModel] = useState(undefined);
  const [values, setValues] = useState({});
  useEffect(() => {
    let close = () => {};
    let live = true;
    get("/model")
      .then(async (m) => {
        if (!live) return;
        setModel(m);
        const wanted = powerSeries(m);
        if (!wanted.length) return;
        const list = await get("/series");
        const v = {};
        for (const s of list) if (wanted.includes(s.name) && s.last_value !== null) v[s.name] = s.last_value;
        setValues(v);
        let pending = {};
        const timer = setInterval(() => {
          if (Object.keys(pending).length) setValues((old) => ({ ...old, ...pending }));
          pending = {};
        }, 1000);
        const stop = openLive({ series: wanted, onSample: (s) => (pending[s.series] = s.value) });
        close = () => {
          clearInterval(timer);
          stop();
        };
      })
      .catch(() => live && setModel(null));
    return () => {
      live = false;
      close();
    };
  }, []);
  if (!model) return null;
  const { kw, missing } = sitePower(model, values);
  return (
    <article class="card" data-test="tile-power">
      <h2>{t("overview_power")}</h2>
      <p class="big" data-test="site-power">{kw === null ? "–" : fmtNumber(kw) + " kW"}</p>
      {kw === null && missing.length > 0 && <p class="muted">{t("overview_power_missing", { names: missing.join(", ") })}</p>}
    </article>
  );
}

export function Overview() {
  const [data, setData] = useState(null);
  useEffect(() => {
    let live = true;
    const refresh = () => readAll().then((d) => live && setData(d));
    refresh();
    const timer = setInterval(refresh, 10000);
    const close = openLive({ events: ["*/alarm*"], onEvent: refresh });
    return () => {
      live = false;
      clearInterval(timer);
      close();
    };
  }, []);
  if (!data) return <p class="pad">{t("loading")}</p>;

  const active = (data.alarms || []).filter((a) => a.status.startsWith("active"));
  const offline = (data.devices || []).filter((d) => d.state !== "online");
  const energyRow = data.energy?.rows?.[data.energy.rows.length - 1];
  const energyCol = data.energy?.columns?.[0];
  return (
    <section>
      <h1>{t("overview_title")}</h1>
      <div class="tiles">
        <SitePower />
        <article class="card" data-test="tile-alarms">
          <h2>{t("overview_alarms")}</h2>
          <ul class="counts">
            {CRITICALITIES.map((c) => (
              <li class={"crit-" + c}>
                <a href={"#/alarms?criticality=" + c}>
                  <strong data-test={"alarms-" + c}>{active.filter((a) => a.criticality === c).length}</strong>{" "}
                  {t("crit_" + c)}
                </a>
              </li>
            ))}
          </ul>
        </article>
        <article class="card" data-test="tile-devices">
          <h2>{t("overview_devices")}</h2>
          <p class={offline.length ? "bad" : "good"}>
            {offline.length
              ? t("overview_devices_offline", { n: offline.length })
              : t("overview_devices_all_online", { n: (data.devices || []).length })}
          </p>
          {offline.length > 0 && (
            <ul>
              {offline.slice(0, 8).map((d) => (
                <li>
                  {d.name}: {t("state_" + d.state)}
                </li>
              ))}
            </ul>
          )}
        </article>
        {energyRow && energyCol && (
          <article class="card" data-test="tile-energy">
            <h2>{t("overview_energy_today")}</h2>
            <p class="big">
              {fmtNumber(energyRow.values[0])} {energyCol.unit}
            </p>
          </article>
        )}
        {(data.ev || []).map((g) => (
          <article class="card" data-test="tile-ev">
            <h2>
              {t("overview_ev")} · {g.rule}
            </h2>
            <p class={"area area-" + String(g.area).toLowerCase()}>
              {t("overview_ev_area", {
                area: g.area,
                amps: fmtNumber(Math.max(...(g.current || [0]).map((x) => x || 0))),
                limit: fmtNumber(g.maximum_current_available_for_the_charging),
              })}
            </p>
            <p>{t("overview_ev_sessions", { n: (g.stations || []).filter((s) => s.session).length })}</p>
          </article>
        ))}
        {(data.demand || []).map((d) => (
          <article class="card" data-test="tile-demand">
            <h2>
              {t("overview_demand")} · {d.name || d.rule}
            </h2>
            <p class={d.exceeded ? "bad" : ""}>
              {t("overview_demand_value", { kw: fmtNumber(d.predicted_kw), limit: fmtNumber(d.limit_kw) })}
            </p>
            <meter min="0" max={d.limit_kw * 1.2} low={d.limit_kw * 0.9} high={d.limit_kw} optimum="0"
              value={d.predicted_kw || 0} aria-label={t("overview_demand")} />
          </article>
        ))}
      </div>
    </section>
  );
}
