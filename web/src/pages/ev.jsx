// EV charging (Green'Up, legrand-energy-web-server.md §5): each rule's
// installation current per phase against the maximum current available and
// the maximum for the charging, the area (green, yellow, red), each station
// (state, setpoint, measured current, the session's Ah) and, for the roles
// that may (operator, admin), the run-time overrides of a session (Start or
// Wait, Normal or Priority) and the charging limit. GET /ev every 3 s.
import { useEffect, useState } from "preact/hooks";
import { get, post } from "../api.js";
import { fmtNumber, fmtTime } from "../format.js";
import { t } from "../strings.js";

export function Ev({ me }) {
  const [rules, setRules] = useState(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const mayOperate = me.role === "operator" || me.role === "admin";
  const read = () =>
    get("/ev")
      .then((r) => {
        setRules(r);
        setError("");
      })
      .catch((e) => setError(e.message));
  useEffect(() => {
    read();
    const timer = setInterval(read, 3000);
    return () => clearInterval(timer);
  }, []);
  const act = async (what, path, body) => {
    try {
      const answer = await post(path, body);
      setNotice(answer && answer.effective !== undefined && answer.effective !== answer.amperes
        ? t("ev_sent_effective", { what, effective: fmtNumber(answer.effective) })
        : t("ev_sent", { what }));
      read();
    } catch (e) {
      setNotice(t("error_prefix", { message: e.message }));
    }
  };
  if (error) return <p class="error pad">{t("error_prefix", { message: error })}</p>;
  if (!rules) return <p class="pad">{t("loading")}</p>;
  if (!rules.length) return <p class="pad">{t("ev_none")}</p>;
  return (
    <section>
      <h1>{t("ev_title")}</h1>
      {notice && <p role="status" data-test="ev-notice">{notice}</p>}
      {rules.map((g) => (
        <article class="card" data-test={"ev-rule-" + g.rule}>
          <h2>
            {g.rule}{" "}
            <span class={"badge area-" + String(g.area).toLowerCase()} data-test="ev-area">
              {t("ev_area", { area: g.area })}
            </span>
            {g.failsafe && <span class="badge bad">{t("ev_failsafe")}</span>}
          </h2>
          <div class="phases">
            {(g.current || []).map((amps, i) => (
              <div class="phase">
                <span>
                  L{i + 1}: {fmtNumber(amps)} A
                </span>
                <Bar value={amps || 0} max={g.maximum_current_available} mark={g.maximum_current_available_for_the_charging}
                  area={(g.areas || [])[i] || g.area} label={"L" + (i + 1)} />
              </div>
            ))}
          </div>
          <p>
            {t("ev_limits", { max: fmtNumber(g.maximum_current_available),
              charging: fmtNumber(g.maximum_current_available_for_the_charging),
              configured: fmtNumber(g.configured_charging_limit) })}
          </p>
          {mayOperate && <ChargingLimit rule={g} onSet={(a) => act(t("ev_limit"), `/ev/${g.rule}/charging_limit`, { amperes: a })} />}
          <div class="table-wrap">
            <table data-test="stations">
              <thead>
                <tr>
                  <th scope="col">{t("ev_station")}</th>
                  <th scope="col">{t("ev_state")}</th>
                  <th scope="col" class="num">{t("ev_setpoint")}</th>
                  <th scope="col" class="num">{t("ev_measured")}</th>
                  <th scope="col">{t("ev_session")}</th>
                  <th scope="col" class="num">{t("ev_ah")}</th>
                  {mayOperate && <th scope="col">{t("ev_overrides")}</th>}
                </tr>
              </thead>
              <tbody>
                {(g.stations || []).map((s) => (
                  <tr data-station={s.name}>
                    <th scope="row">{s.name}</th>
                    <td>{s.state}</td>
                    <td class="num">{fmtNumber(s.setpoint)} A</td>
                    <td class="num">{fmtNumber(s.measured_current)} A</td>
                    <td>
                      {s.session
                        ? `${s.session.status}, ${s.session.priority}${s.session.override ? " (" + s.session.override + ")" : ""}, ${t("ev_since", { time: fmtTime(s.session.started_ms) })}`
                        : "–"}
                    </td>
                    <td class="num">{s.session ? fmtNumber(s.session.ah) : "–"}</td>
                    {mayOperate && (
                      <td>
                        {s.session ? (
                          <span class="buttons">
                            <button type="button" class="secondary" data-test="ev-start"
                              onClick={() => act(t("ev_start") + " " + s.name, `/ev/${g.rule}/stations/${s.name}/override`, { start_wait: "Start" })}>
                              {t("ev_start")}
                            </button>
                            <button type="button" class="secondary" data-test="ev-wait"
                              onClick={() => act(t("ev_wait") + " " + s.name, `/ev/${g.rule}/stations/${s.name}/override`, { start_wait: "Wait" })}>
                              {t("ev_wait")}
                            </button>
                            <button type="button" class="secondary" data-test="ev-priority"
                              onClick={() => act(t("ev_priority") + " " + s.name, `/ev/${g.rule}/stations/${s.name}/override`,
                                { priority: s.session.priority === "Priority" ? "Normal" : "Priority" })}>
                              {s.session.priority === "Priority" ? t("ev_normal") : t("ev_priority")}
                            </button>
                          </span>
                        ) : (
                          t("ev_no_session")
                        )}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </article>
      ))}
    </section>
  );
}

// A phase's current as a bar coloured by its area (the rule's green,
// yellow or red, as the page says it), with a mark at the charging limit.
function Bar({ value, max, mark, area, label }) {
  const pct = (v) => Math.max(0, Math.min(100, (v / (max || 1)) * 100));
  return (
    <div class="bar" role="img" aria-label={`${label}: ${fmtNumber(value)} A, ${String(area).toLowerCase()}`}>
      <div class={"fill area-bg-" + String(area).toLowerCase()} style={{ width: pct(value) + "%" }} />
      {mark ? <div class="mark" style={{ left: pct(mark) + "%" }} title={fmtNumber(mark) + " A"} /> : null}
    </div>
  );
}

function ChargingLimit({ rule, onSet }) {
  const [amps, setAmps] = useState("");
  return (
    <form class="inline" onSubmit={(e) => {
      e.preventDefault();
      if (amps !== "") onSet(Number(amps));
    }}>
      <label>
        {t("ev_limit")}
        <input name="amperes" type="number" min="0" max={rule.configured_charging_limit} step="1" value={amps}
          placeholder={String(rule.maximum_current_available_for_the_charging)} onInput={(e) => setAmps(e.target.value)} />
      </label>
      <button type="submit">{t("ev_limit_set")}</button>
    </form>
  );
}
