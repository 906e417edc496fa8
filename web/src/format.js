// Numbers and times as the dashboard shows them (the browser's locale).
export function fmtNumber(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const abs = Math.abs(v);
  const d = abs >= 1000 ? 0 : abs >= 100 ? 1 : digits;
  return Number(v).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

// Times are the site's (its [site] timezone), whatever the browser's zone.
let zone;
export function setZone(tz) {
  zone = tz || undefined;
}
export function siteZone() {
  return zone;
}

// "2026-12-03T08:00" (a datetime-local input) read as the site's wall time,
// in UTC ms (the zone's offset at that moment, found with Intl).
export function parseSiteLocal(text) {
  if (!text) return null;
  const guess = Date.parse(text + "Z");
  if (Number.isNaN(guess) || !zone) return Date.parse(text);
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(guess));
  const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  const wall = Date.UTC(+v.year, +v.month - 1, +v.day, +v.hour, +v.minute, +v.second);
  return guess - (wall - guess);
}

export function fmtTime(ms) {
  if (!ms) return "–";
  return new Date(ms).toLocaleString(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZone: zone,
  });
}

// "12 s ago", "3 min ago", or the time.
export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return "–";
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return fmtTime(ms);
}

export function csvCell(v) {
  const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

// Offers `text` as a file download.
export function download(name, text, type = "text/csv;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
