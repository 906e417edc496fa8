// Floor plans (Photoview): a picture of a floor or a panel with live values,
// devices (their state, a link to them) and sensors (their state label:
// occupied, tamper, ...; offline with their device) placed on it. Admins
// make plans, upload the picture (PNG, JPEG or WebP) and place items by
// clicking on it. GET /floorplans, /devices, /series; live values by GET /live.
import { useEffect, useMemo, useState } from "preact/hooks";
import { del, get, post, put } from "../api.js";
import { openLive } from "../live.js";
import { fmtAgo, fmtNumber } from "../format.js";
import { t } from "../strings.js";

export function FloorPlans({ me }) {
  const [plans, setPlans] = useState(null);
  const [current, setCurrent] = useState(null);
  const [error, setError] = useState("");
  const mayEdit = me.role === "admin";
  const read = (select) =>
    get("/floorplans")
      .then((p) => {
        setPlans(p);
        setCurrent((c) => select ?? (p.find((x) => x.id === c) ? c : p[0]?.id ?? null));
      })
      .catch((e) => setError(e.message));
  useEffect(() => {
    read();
  }, []);
  const add = async (e) => {
    e.preventDefault();
    const name = new FormData(e.target).get("name");
    try {
      const plan = await post("/floorplans", { name });
      e.target.reset();
      read(plan.id);
    } catch (err) {
      setError(err.message);
    }
  };
  if (!plans) return <p class="pad">{error ? t("error_prefix", { message: error }) : t("loading")}</p>;
  const plan = plans.find((p) => p.id === current);
  return (
    <section>
      <h1>{t("plans_title")}</h1>
      <div class="card filters">
        {plans.length > 0 && (
          <label>
            {t("plans_choose")}
            <select name="plan" value={current || ""} onChange={(e) => setCurrent(e.target.value)}>
              {plans.map((p) => <option value={p.id}>{p.name}</option>)}
            </select>
          </label>
        )}
        {mayEdit && (
          <form class="inline" onSubmit={add}>
            <label>
              {t("plans_new")}
              <input name="name" required maxLength={100} />
            </label>
            <button type="submit" data-test="plan-add">{t("plans_add")}</button>
          </form>
        )}
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!plans.length && <p>{mayEdit ? t("plans_none_admin") : t("plans_none")}</p>}
      {plan && <Plan key={plan.id} plan={plan} mayEdit={mayEdit} onChanged={() => read(plan.id)} onError={setError} />}
    </section>
  );
}

function Plan({ plan, mayEdit, onChanged, onError }) {
  const [editing, setEditing] = useState(false);
  const [items, setItems] = useState(plan.items);
  const [draft, setDraft] = useState(null); // {x, y} where a new item goes
  const [values, setValues] = useState({});
  const [series, setSeries] = useState({}); // name -> {unit, states}
  const [devices, setDevices] = useState({});
  const [, tick] = useState(0);
  useEffect(() => setItems(plan.items), [plan.updated_ms]);

  const wanted = useMemo(() => [...new Set(items.filter((i) => i.series).map((i) => i.series))], [items]);
  useEffect(() => {
    let live = true;
    get("/series").then((list) => {
      if (!live) return;
      const meta = {}, v = {};
      for (const s of list) {
        meta[s.name] = { unit: s.unit, states: s.states || {} };
        if (s.last_value !== null && s.last_value !== undefined)
          v[s.name] = { value: s.last_value, ts: s.last_time ? Date.parse(s.last_time) : 0 };
      }
      setSeries(meta);
      setValues((old) => ({ ...v, ...old }));
    });
    const readDevices = () =>
      get("/devices").then((d) => live && setDevices(Object.fromEntries(d.map((x) => [x.name, x]))));
    readDevices();
    let pending = {};
    const close = wanted.length
      ? openLive({ series: wanted, onSample: (s) => (pending[s.series] = { value: s.value, ts: s.ts }) })
      : () => {};
    const timer = setInterval(() => {
      if (Object.keys(pending).length) setValues((old) => ({ ...old, ...pending }));
      pending = {};
      tick((n) => n + 1);
    }, 1000);
    const devTimer = setInterval(readDevices, 10000);
    return () => {
      live = false;
      close();
      clearInterval(timer);
      clearInterval(devTimer);
    };
  }, [wanted.join(",")]);

  const upload = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    try {
      await put(`/floorplans/${plan.id}/image`, file);
      onChanged();
    } catch (err) {
      onError(err.message);
    }
  };
  const save = async () => {
    try {
      await put(`/floorplans/${plan.id}`, { items });
      setEditing(false);
      onChanged();
    } catch (err) {
      onError(err.message);
    }
  };
  const remove = async () => {
    if (!confirm(t("plans_remove_confirm", { name: plan.name }))) return;
    await del(`/floorplans/${plan.id}`).catch((err) => onError(err.message));
    onChanged();
  };
  const place = (e) => {
    if (!editing) return;
    const r = e.currentTarget.getBoundingClientRect();
    setDraft({ x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) });
  };
  const now = Date.now();
  const device = (name) => devices[name] || (name ? devices[name.split("/")[0]] : null);
  return (
    <div class="card">
      <h2>{plan.name}</h2>
      {mayEdit && (
        <div class="buttons plan-tools">
          <label class="button secondary">
            {t("plans_image")}
            <input type="file" accept="image/png,image/jpeg,image/webp" class="hidden-file" onChange={upload} data-test="plan-image" />
          </label>
          {editing ? (
            <>
              <button type="button" onClick={save} data-test="plan-save">{t("plans_save")}</button>
              <button type="button" class="secondary" onClick={() => { setItems(plan.items); setEditing(false); setDraft(null); }}>
                {t("plans_cancel")}
              </button>
            </>
          ) : (
            <button type="button" class="secondary" onClick={() => setEditing(true)} data-test="plan-edit">{t("plans_edit")}</button>
          )}
          <button type="button" class="secondary" onClick={remove}>{t("plans_remove")}</button>
        </div>
      )}
      {editing && <p class="muted">{t("plans_edit_help")}</p>}
      {plan.image_type ? (
        <div class={"plan" + (editing ? " editing" : "")} onClick={place} data-test="plan">
          <img src={`/api/v1/floorplans/${plan.id}/image?v=${plan.updated_ms}`} alt={plan.name} />
          {items.map((it, i) => {
            const v = it.series ? values[it.series] : null;
            const meta = it.series ? series[it.series] : null;
            const dev = device(it.kind === "device" ? it.device : it.series);
            const offline = dev && dev.state !== "online";
            let text, cls = "item item-" + it.kind;
            if (it.kind === "device") {
              text = t("state_" + (dev?.state || "unknown"));
              cls += " state-" + (dev?.state || "unknown");
            } else if (!v) {
              text = t("no_data");
            } else if (it.kind === "sensor") {
              const label = meta?.states?.[String(Math.round(v.value))];
              text = offline ? t("state_offline") : label || fmtNumber(v.value);
              cls += offline ? " bad" : " sensor-" + String(label || "value").replace(/[^a-z0-9_-]/gi, "_");
            } else {
              text = `${fmtNumber(v.value)} ${meta?.unit || ""}`;
            }
            const stale = v && now - v.ts > 5 * 60000;
            return (
              <div class={cls + (stale ? " stale" : "")} style={{ left: it.x * 100 + "%", top: it.y * 100 + "%" }}
                data-item={i} title={v ? fmtAgo(v.ts, now) : ""}>
                <span class="label">
                  {it.kind === "device" ? <a href="#/devices">{it.label || it.device}</a> : it.label || it.series}
                </span>
                <span class="value" data-test="item-value">{text}</span>
                {editing && (
                  <button type="button" class="link" aria-label={t("plans_item_remove")}
                    onClick={(e) => { e.stopPropagation(); setItems(items.filter((_, k) => k !== i)); }}>
                    ×
                  </button>
                )}
              </div>
            );
          })}
        </div>
      ) : (
        <p>{mayEdit ? t("plans_no_image_admin") : t("plans_no_image")}</p>
      )}
      {draft && (
        <NewItem at={draft} seriesNames={Object.keys(series)} deviceNames={Object.keys(devices)}
          onAdd={(item) => { setItems([...items, { ...draft, ...item }]); setDraft(null); }}
          onCancel={() => setDraft(null)} />
      )}
    </div>
  );
}

function NewItem({ at, seriesNames, deviceNames, onAdd, onCancel }) {
  const [kind, setKind] = useState("value");
  const [target, setTarget] = useState("");
  const [label, setLabel] = useState("");
  const submit = (e) => {
    e.preventDefault();
    const item = { kind, ...(kind === "device" ? { device: target } : { series: target }) };
    if (label) item.label = label;
    onAdd(item);
  };
  return (
    <form class="inline card" onSubmit={submit} data-test="new-item">
      <span class="muted">{t("plans_item_at", { x: Math.round(at.x * 100), y: Math.round(at.y * 100) })}</span>
      <label>
        {t("plans_item_kind")}
        <select name="kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {["value", "sensor", "device"].map((k) => <option value={k}>{t("plans_kind_" + k)}</option>)}
        </select>
      </label>
      <label>
        {kind === "device" ? t("plans_item_device") : t("plans_item_series")}
        <input name="target" required list="plan-targets" value={target} onInput={(e) => setTarget(e.target.value)} />
        <datalist id="plan-targets">
          {(kind === "device" ? deviceNames : seriesNames).slice(0, 2000).map((n) => <option value={n} />)}
        </datalist>
      </label>
      <label>
        {t("plans_item_label")}
        <input name="label" maxLength={100} value={label} onInput={(e) => setLabel(e.target.value)} />
      </label>
      <button type="submit" data-test="item-add">{t("plans_item_add")}</button>
      <button type="button" class="secondary" onClick={onCancel}>{t("plans_cancel")}</button>
    </form>
  );
}
