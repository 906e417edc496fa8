// Events (GET /events): what `gridlet events` prints, filtered by type,
// source, lowest severity and period; the newest page first in the table
// (the last hour by default; the API sends the oldest first, at most 1,000
// here); the same question as
// CSV. Admins and security officers also see the audit events.
import { useEffect, useState } from "preact/hooks";
import { api, get, qs } from "../api.js";
import { download, fmtTime } from "../format.js";
import { t } from "../strings.js";

const SEVERITIES = ["debug", "info", "notice", "warning", "error", "critical"];

export function Events() {
  const [f, setF] = useState({ type: "", source: "", severity: "info", from: "", to: "" });
  const [events, setEvents] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState("");
  const params = (format) => ({
    type: f.type, source: f.source, severity: f.severity,
    // A local time is the site's (the API reads it in the site's zone).
    from: f.from || "-1h", to: f.to || "", format, limit: format === "csv" ? 100000 : 1000,
  });
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      get("/events" + qs(params("json")))
        .then((e) => {
          if (!live) return;
          setEvents(e.slice().reverse());
          setMore(e.length >= 1000);
          setError("");
        })
        .catch((e) => live && setError(e.message));
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [JSON.stringify(f)]);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const csv = async () => download("events.csv", await api("GET", "/events" + qs(params("csv"))));
  return (
    <section>
      <form class="filters card" aria-label={t("events_filters")} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t("events_type")}
          <input name="type" value={f.type} placeholder="ev_session" onInput={set("type")} />
        </label>
        <label>
          {t("alarms_source")}
          <input name="source" value={f.source} placeholder="rule/*" onInput={set("source")} />
        </label>
        <label>
          {t("events_severity")}
          <select name="severity" value={f.severity} onChange={set("severity")}>
            {SEVERITIES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          {t("alarms_period")}
          <span class="range">
            <input name="from" type="datetime-local" value={f.from} onChange={set("from")} />
            <input name="to" type="datetime-local" value={f.to} onChange={set("to")} />
          </span>
        </label>
        <button type="button" onClick={csv} data-test="events-csv">{t("alarms_export")}</button>
      </form>
      {error && <p class="error" role="alert">{t("error_prefix", { message: error })}</p>}
      {more && <p class="muted">{t("events_more")}</p>}
      {!events ? (
        <p>{t("loading")}</p>
      ) : !events.length ? (
        <p>{t("events_none")}</p>
      ) : (
        <div class="table-wrap">
          <table data-test="events">
            <thead>
              <tr>
                <th scope="col">{t("devices_time")}</th>
                <th scope="col">{t("alarms_source")}</th>
                <th scope="col">{t("events_type")}</th>
                <th scope="col">{t("events_severity_column")}</th>
                <th scope="col">{t("events_body")}</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr>
                  <td>{fmtTime(e.ts_ms)}</td>
                  <td>{e.source}</td>
                  <td>{e.type}</td>
                  <td>{e.severity}</td>
                  <td class="wrap mono">{JSON.stringify(e.body)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
