// Consumption of the site model (GET /consumption): by total, load, group,
// usage, area, node or point; per hour, day, month or year in the site's
// time zone; a stacked histogram and the table with its Total and Average
// rows (as Socomec prints them), the previous period beside it, costs, and
// the CSV of the same question. A click on a period drills down into it
// (a year into its months, a month into its days, a day into its hours).
import { useEffect, useState } from "preact/hooks";
import { api, get, qs } from "../api.js";
import { Chart } from "../chart.jsx";
import { download, fmtNumber } from "../format.js";
import { t } from "../strings.js";

const BY = ["total", "load", "group", "usage", "area", "node", "point"];
const PERIODS = ["hour", "day", "month", "year"];
const FINER = { year: "month", month: "day", day: "hour" };

function pad(n) {
  return String(n).padStart(2, "0");
}
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
function addDays(date, n) {
  const d = new Date(date + "T12:00:00");
  d.setDate(d.getDate() + n);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
// The local range a period starting at `start` (ISO with offset) covers.
function rangeOf(start, period) {
  const day = start.slice(0, 10);
  if (period === "day") return { from: day, to: addDays(day, 1), period: "hour" };
  if (period === "month") {
    const [y, m] = day.split("-").map(Number);
    const next = m === 12 ? `${y + 1}-01-01` : `${y}-${pad(m + 1)}-01`;
    return { from: `${y}-${pad(m)}-01`, to: next, period: "day" };
  }
  if (period === "year") return { from: `${day.slice(0, 4)}-01-01`, to: `${Number(day.slice(0, 4)) + 1}-01-01`, period: "month" };
  return null;
}

export function Consumption() {
  const [q, setQ] = useState({ by: "load", period: "day", from: addDays(today(), -6), to: addDays(today(), 1),
    compare: false, cost: false });
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState("");
  const params = (format) => ({ by: q.by, period: q.period, from: q.from, to: q.to,
    compare: q.compare ? "previous" : "", cost: q.cost ? "true" : "", format });
  useEffect(() => {
    let live = true;
    setError("");
    get("/consumption" + qs(params("json")))
      .then((a) => live && setAnswer(a))
      .catch((e) => {
        if (!live) return;
        setAnswer(null);
        setError(e.code === "not_found" ? t("consumption_no_model") : e.message);
      });
    return () => {
      live = false;
    };
  }, [JSON.stringify(q)]);
  const set = (k) => (e) => setQ({ ...q, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const csv = async () => download("consumption.csv", await api("GET", "/consumption" + qs(params("csv"))));
  const drill = (row) => {
    const r = FINER[q.period] && rangeOf(row.start, q.period);
    if (r) setQ({ ...q, ...r });
  };
  const cols = answer?.columns || [];
  const rows = answer?.rows || [];
  // The bars stack the parts; the total column (beside the parts) is in the table only.
  const parts = cols.map((c, i) => i).filter((i) => cols.length === 1 || cols[i].name !== "total");
  return (
    <section>
      <h1>{t("consumption_title")}</h1>
      <form class="card filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          {t("consumption_by")}
          <select name="by" value={q.by} onChange={set("by")}>
            {BY.map((b) => <option value={b}>{t("by_" + b)}</option>)}
          </select>
        </label>
        <label>
          {t("consumption_period")}
          <select name="period" value={q.period} onChange={set("period")}>
            {PERIODS.map((p) => <option value={p}>{t("period_" + p)}</option>)}
          </select>
        </label>
        <label>
          {t("consumption_from")}
          <input name="from" type="date" value={q.from} onChange={set("from")} />
        </label>
        <label>
          {t("consumption_to")}
          <input name="to" type="date" value={q.to} onChange={set("to")} />
        </label>
        <label class="check">
          <input type="checkbox" name="compare" checked={q.compare} onChange={set("compare")} />
          {t("consumption_compare")}
        </label>
        <label class="check">
          <input type="checkbox" name="cost" checked={q.cost} onChange={set("cost")} />
          {t("consumption_cost")}
        </label>
        <button type="button" onClick={csv} data-test="consumption-csv">{t("consumption_csv")}</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {answer && (
        <>
          <div class="card">
            <Chart bars stacked height={300} label={t("consumption_title")}
              data={[rows.map((r) => r.ts_ms / 1000), ...parts.map((c) => rows.map((r) => r.values[c]))]}
              series={parts.map((c) => ({ label: cols[c].label || cols[c].name, unit: cols[c].unit }))} />
            {FINER[q.period] && <p class="muted">{t("consumption_drill_help")}</p>}
          </div>
          <div class="table-wrap card">
            <table data-test="consumption-table">
              <thead>
                <tr>
                  <th scope="col">{t("consumption_start")}</th>
                  {cols.map((c) => (
                    <th scope="col" class="num">
                      {c.label || c.name} ({c.unit})
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr>
                    <th scope="row">
                      {FINER[q.period] ? (
                        <button type="button" class="link" onClick={() => drill(r)}>{r.start.slice(0, 16).replace("T", " ")}</button>
                      ) : (
                        r.start.slice(0, 16).replace("T", " ")
                      )}
                    </th>
                    {r.values.map((v, c) => (
                      <td class={"num" + (r.negative[c] ? " bad" : "")}>{v === null ? "–" : fmtNumber(v, 3)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr data-test="consumption-total">
                  <th scope="row">{t("consumption_total")}</th>
                  {cols.map((c) => <td class="num">{fmtNumber(c.total, 3)}</td>)}
                </tr>
                <tr>
                  <th scope="row">{t("consumption_average")}</th>
                  {cols.map((c) => <td class="num">{fmtNumber(c.average, 3)}</td>)}
                </tr>
                {answer.previous && (
                  <tr>
                    <th scope="row">{t("consumption_previous")}</th>
                    {(answer.previous.columns || []).map((c) => <td class="num">{fmtNumber(c.total, 3)}</td>)}
                  </tr>
                )}
                {answer.change_percent && (
                  <tr>
                    <th scope="row">{t("consumption_change")}</th>
                    {answer.change_percent.map((v) => <td class="num">{v === null ? "–" : fmtNumber(v, 1) + " %"}</td>)}
                  </tr>
                )}
              </tfoot>
            </table>
          </div>
          {(answer.notes || []).length > 0 && (
            <ul class="muted">
              {answer.notes.map((n) => <li>{typeof n === "string" ? n : JSON.stringify(n)}</li>)}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
