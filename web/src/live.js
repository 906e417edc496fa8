// Live samples and events from GET /api/v1/live (server-sent events). The
// browser's EventSource reconnects by itself after a network cut; when the
// gateway restarts or drops a slow client the stream ends for good, so the
// stream is opened again after a pause that grows to 30 s. `onState` hears
// "live" or "reconnecting".
export function openLive({ series = [], events = [], onSample, onEvent, onState }) {
  let source = null;
  let closed = false;
  let delay = 1000;
  let timer = null;
  const query = new URLSearchParams();
  if (series.length) query.set("series", series.join(","));
  if (events.length) query.set("events", events.join(","));

  const open = () => {
    if (closed) return;
    source = new EventSource("/api/v1/live?" + query.toString(), { withCredentials: true });
    source.onopen = () => {
      delay = 1000;
      onState?.("live");
    };
    source.addEventListener("sample", (m) => onSample?.(JSON.parse(m.data)));
    source.addEventListener("event", (m) => onEvent?.(JSON.parse(m.data)));
    source.addEventListener("dropped", () => source.close());
    source.onerror = () => {
      onState?.("reconnecting");
      {
        source.close();
        clearTimeout(timer);
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      }
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    source?.close();
  };
}
