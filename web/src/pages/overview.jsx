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
