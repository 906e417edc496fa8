// Alarms and events, with the Socomec filters: period (of the start), source,
// type, category, status and criticality; a detail panel; acknowledgement
// with a comment for the roles that may (operator, admin: the button is not
// shown to others, and the API refuses them anyway); the filtered list as
// CSV. GET /alarms, read again when an alarm event comes.
import { useEffect, useMemo, useState } from "preact/hooks";
import { get, post, qs } from "../api.js";
import { openLive } from "../live.js";
import { csvCell, download, fmtNumber, fmtTime, parseSiteLocal } from "../format.js";
import { t } from "../strings.js";
import { Events } from "./events.jsx";

const STATUSES = ["open", "all", "active_unacknowledged", "active_acknowledged", "finished_unacknowledged",
  "finished_acknowledged"];
const CRITICALITIES = ["critical", "non_critical", "information"];
const TYPES = ["alarm", "system", "power_quality"];

function initialFilters() {
  const p = new URLSearchParams(location.hash.split("?")[1] || "");
  return { status: "open", source: "", type: "", category: "", criticality: p.get("criticality") || "", from: "", to: "" };
}

// The page: the alarms, or the events (a tab each).
export function Alarms({ me }) {
  const [tab, setTab] = useState("alarms");
  return (
    <section>
      <h1>{t("alarms_title")}</h1>
      <div role="tablist" class="buttons tabs">
        {["alarms", "events"].map((k) => (
          <button type="button" role="tab" class="secondary" aria-selected={tab === k} aria-pressed={tab === k}
            data-test={"tab-" + k} onClick={() => setTab(k)}>
            {t("tab_" + k)}
          </button>
        ))}
      </div>
      {tab === "alarms" ? <AlarmList me={me} /> : <Events />}
    </section>
  );
}

function AlarmList({ me }) {
  const [filters, setFilters] = useState(initialFilters);
  const [alarms, setAlarms] = useState(null);
  const [error, setError] = useState("");
  const [chosen, setChosen] = useState(null);
  const mayAck = me.role === "operator" || me.role === "admin";

  const read = () =>
    get("/alarms" + qs({ status: filters.status, source: filters.source, limit: 5000 }))
      .then((a) => {
        setAlarms(a);
        setError("");
      })
      .catch((e) => setError(e.message));
  useEffect(() => {
    read();
    const close = openLive({ events: ["*/alarm*"], onEvent: read });
    return close;
  }, [filters.status, filters.source]);

  const shown = useMemo(() => {
    const from = parseSiteLocal(filters.from), to = parseSiteLocal(filters.to);
    return (alarms || []).filter(
      (a) =>
        (!filters.type || a.type === filters.type) &&
        (!filters.criticality || a.criticality === filters.criticality) &&
        (!filters.category || (a.category || "").toLowerCase().includes(filters.category.toLowerCase())) &&
        (from === null || a.start_ms >= from) &&
        (to === null || a.start_ms < to),
    );
  }, [alarms, filters]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  const exportCsv = () => {
    const cols = ["id", "start", "end", "name", "source", "series", "type", "category", "criticality", "status",
      "message", "acknowledged_by", "acknowledged_at", "comment"];
    const lines = [cols.join(",")];
    for (const a of shown)
      lines.push([a.id, new Date(a.start_ms).toISOString(), a.end_ms ? new Date(a.end_ms).toISOString() : "", a.name,
        a.source, a.series, a.type, a.category, a.criticality, a.status, a.message, a.ack?.by || "",
        a.ack ? new Date(a.ack.at_ms).toISOString() : "", a.ack?.comment || ""].map(csvCell).join(","));
    download("alarms.csv", lines.join("\r\n") + "\r\n");
  };
  const detail = chosen && (alarms || []).find((a) => a.id === chosen);

  return (
    <section>
      <form class="filters card" aria-label={t("alarms_filters")} onSubmit={(e) => e.preventDefault()}>
        <label>
          {t("alarms_status")}
          <select name="status" value={filters.status} onChange={set("status")}>
            {STATUSES.map((s) => (
              <option value={s}>{s === "open" ? t("alarms_period_open") : s === "all" ? t("alarms_status_all") : t("status_" + s)}</option>
            ))}
          </select>
        </label>
        <label>
          {t("alarms_criticality")}
          <select name="criticality" value={filters.criticality} onChange={set("criticality")}>
            <option value="">{t("alarms_any")}</option>
            {CRITICALITIES.map((c) => <option value={c}>{t("crit_" + c)}</option>)}
          </select>
        </label>
        <label>
          {t("alarms_type")}
          <select name="type" value={filters.type} onChange={set("type")}>
            <option value="">{t("alarms_any")}</option>
            {TYPES.map((c) => <option value={c}>{c}</option>)}
          </select>
        </label>
        <label>
          {t("alarms_source")}
          <input name="source" value={filters.source} placeholder="rule/*" onChange={set("source")} />
        </label>
        <label>
          {t("alarms_category")}
          <input name="category" value={filters.category} onInput={set("category")} />
        </label>
        <label>
          {t("alarms_period")}
          <span class="range">
            <input name="from" type="datetime-local" value={filters.from} onChange={set("from")} />
            <input name="to" type="datetime-local" value={filters.to} onChange={set("to")} />
          </span>
        </label>
        <button type="button" onClick={exportCsv} data-test="export-csv">{t("alarms_export")}</button>
      </form>
      {error && <p class="error" role="alert">{t("error_prefix", { message: error })}</p>}
      {!alarms ? (
        <p>{t("loading")}</p>
      ) : shown.length === 0 ? (
        <p data-test="no-alarms">{t("alarms_none")}</p>
      ) : (
        <div class="table-wrap">
          <table data-test="alarms">
            <thead>
              <tr>
                <th scope="col">{t("alarms_start")}</th>
                <th scope="col">{t("alarms_name")}</th>
                <th scope="col">{t("alarms_source")}</th>
                <th scope="col">{t("alarms_criticality")}</th>
                <th scope="col">{t("alarms_status")}</th>
                <th scope="col">{t("alarms_message")}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr class={(chosen === a.id ? "chosen " : "") + "crit-" + a.criticality} data-alarm={a.id}>
                  <td>{fmtTime(a.start_ms)}</td>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => setChosen(a.id)} aria-pressed={chosen === a.id}>
                      {a.name}
                    </button>
                  </th>
                  <td>{a.source}</td>
                  <td>{t("crit_" + a.criticality)}</td>
                  <td data-test="status">{t("status_" + a.status)}</td>
                  <td class="wrap">{a.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {detail && <AlarmDetail alarm={detail} mayAck={mayAck} onClose={() => setChosen(null)} onChanged={read} />}
    </section>
  );
}

function AlarmDetail({ alarm, mayAck, onClose, onChanged }) {
  const [comment, setComment] = useState("");
  const [error, setError] = useState("");
  const acknowledge = async (e) => {
    e.preventDefault();
    try {
      await post(`/alarms/${alarm.id}/acknowledge`, { comment });
      setComment("");
      onChanged();
    } catch (err) {
      setError(err.message);
    }
  };
  const rows = [
    ["detail_id", alarm.id], ["detail_key", alarm.key], ["alarms_source", alarm.source], ["detail_series", alarm.series],
    ["alarms_type", alarm.type], ["alarms_category", alarm.category], ["alarms_criticality", t("crit_" + alarm.criticality)],
    ["alarms_status", t("status_" + alarm.status)], ["detail_condition", alarm.condition],
    ["alarms_start", fmtTime(alarm.start_ms)], ["detail_end", fmtTime(alarm.end_ms)],
    ["detail_value_start", fmtNumber(alarm.value_start)], ["detail_value_extreme", fmtNumber(alarm.value_extreme)],
  ];
  return (
    <aside class="card detail" aria-label={t("alarms_detail")} data-test="alarm-detail">
      <h2>
        {t("alarms_detail")}: {alarm.name}
      </h2>
      <p>{alarm.message}</p>
      <dl>
        {rows.map(([k, v]) => (
          <>
            <dt>{t(k)}</dt>
            <dd>{v === "" || v === null || v === undefined ? "–" : String(v)}</dd>
          </>
        ))}
      </dl>
      {alarm.ack ? (
        <p data-test="acked">
          {t("alarms_ack_done", { by: alarm.ack.by })}, {fmtTime(alarm.ack.at_ms)}
          {alarm.ack.comment ? ": " + alarm.ack.comment : ""}
        </p>
      ) : (
        mayAck && (
          <form onSubmit={acknowledge} class="ack">
            <label>
              {t("alarms_ack_comment")}
              <input name="comment" required value={comment} onInput={(e) => setComment(e.target.value)} />
            </label>
            <button type="submit" data-test="acknowledge">{t("alarms_ack")}</button>
          </form>
        )
      )}
      {error && <p class="error" role="alert">{error}</p>}
      <button type="button" class="link" onClick={onClose}>{t("alarms_close")}</button>
    </aside>
  );
}
