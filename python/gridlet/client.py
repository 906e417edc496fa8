"""gridlet.Client: the HTTP API of a gridlet gateway as pandas DataFrames.

Only the standard library and pandas: urllib over HTTPS, with the gateway's
certificate as the CA (its <data_dir>/tls/cert.pem) or the system's.
Errors of the API raise ApiError with its stable code
(runtime/http/README.md, "Errors").
"""

from __future__ import annotations

import io
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import warnings
from typing import Any, Optional

import pandas as pd


class ApiError(Exception):
    """An answer of the API other than 2xx: .status (HTTP), .code (stable), .message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class GridletTruncated(UserWarning):
    """An answer held back rows at its limit (events): more match than were sent."""


class Client:
    """A gateway's API, with an API token (gridlet token add ...).

    url:     "https://host:8443" (the API is under /api/v1)
    token:   "glt_..." (its role decides what the client may do)
    cafile:  the gateway's certificate (PEM) when it is self-signed;
             None: the system's certificate authorities
    verify:  False skips the certificate check (tests only)
    timeout: seconds for each request
    """

    def __init__(self, url: str, token: str, *, cafile: Optional[str] = None, verify: bool = True,
                 timeout: float = 60):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        if self.url.startswith("https://"):
            self._ssl = ssl.create_default_context(cafile=cafile)
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        else:
            self._ssl = None

    # -- the requests ------------------------------------------------------

    def _get(self, path: str, params: Optional[dict] = None) -> tuple[str, Any]:
        """The answer's text and its headers."""
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        req = urllib.request.Request(f"{self.url}/api/v1{path}" + (f"?{query}" if query else ""),
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as r:
                return r.read().decode("utf-8"), r.headers
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None

    def _json(self, path: str, params: Optional[dict] = None) -> Any:
        return json.loads(self._get(path, params)[0])

    # -- the API -----------------------------------------------------------

    def site(self) -> dict:
        """The site: name, time zone, version, plugins and devices."""
        return self._json("/site")

    def me(self) -> dict:
        """Who the token is: user, role."""
        return self._json("/me")

    def metrics(self) -> dict:
        """What `gridlet metrics` prints, plus the API's own counters."""
        return self._json("/metrics")

    def series(self, pattern: str = "", tags: str = "") -> pd.DataFrame:
        """Series by pattern ("panel1/", "panel?/*/kw") and tags ("floor=f1"): one row
        each, indexed by name: id, kind, unit, description, tags (dict), states
        (dict), last_time (UTC), last_value, last_state."""
        rows = self._json("/series", {"pattern": pattern or None, "tags": tags or None})
        df = pd.DataFrame(rows, columns=["name", "id", "kind", "unit", "description", "tags", "states", "last_time",
                                         "last_value", "last_state"])
        df["last_time"] = pd.to_datetime(df["last_time"].replace("", None), utc=True)
        return df.set_index("name")

    def query(self, pattern: str = "", *, tags: str = "", start: str = "-1h", end: str = "now",
              step: Optional[str] = None, agg: Optional[str] = None, tz: Optional[str] = None,
              wide: bool = False, quality: bool = True, local_time: bool = False) -> pd.DataFrame:
        """Points of the series that match, as `gridlet query` gives them.

        start, end: "2024-03-01", "-1d", "today", "now", "@<epoch ms>" (end exclusive)
        step, agg:  "15m", "1h", "day", "month" ... and avg, min, max, sum, count,
                    first, last, consumption; without step: the raw samples
        tz:         the zone of start/end without offset and of calendar steps
                    (default: the site's)
        Returns a DataFrame with a DatetimeIndex "time" in UTC (in tz, or the
        site's zone, with local_time=True):
          tidy (default): columns series, value[, quality (raw: 0 bad, 192 good)];
          wide=True:      one column per series (NaN where a series has no point).
        Raises ApiError (e.g. invalid_request for a bad range, not_found when no
        series matches).
        """
        text, _ = self._get("/query", {
            "pattern": pattern or None, "tags": tags or None, "from": start, "to": end, "step": step, "agg": agg,
            "tz": tz, "format": "csv", "wide": "true" if wide else None, "quality": None if quality else "false"})
        df = pd.read_csv(io.StringIO(text), float_precision="round_trip")
        df["time"] = pd.to_datetime(df["time"], utc=True)
        df = df.set_index("time")
        if local_time:
            df.index = df.index.tz_convert(tz or self.site()["timezone"])
        return df

    def events(self, *, type: Optional[str] = None, source: Optional[str] = None, severity: str = "debug",
               start: str = "-7d", end: str = "now", limit: Optional[int] = None) -> pd.DataFrame:
        """Events, oldest first, as `gridlet events` gives them: alarms, audit,
        rule and plugin events, EV sessions (type "ev_session").

        type:     exact ("audit", "ev_session", ...); source: name, prefix or glob
        severity: the lowest (debug, info, notice, warning, error, critical)
        limit:    at most this many, the oldest of the range (the API's default
                  and maximum: 10,000 and 100,000); when more events match,
                  a warnings.warn (GridletTruncated) says so: narrow the range
        Returns a DataFrame with a UTC DatetimeIndex "time" and the columns
        source, type, severity, body (a dict).
        """
        text, headers = self._get("/events", {"type": type, "source": source, "severity": severity, "from": start,
                                              "to": end, "limit": limit, "format": "json"})
        rows = json.loads(text)
        if headers.get("X-Gridlet-Truncated") == "true":
            warnings.warn(f"events: only the oldest {len(rows)} of the range were sent (limit); more match: "
                          f"narrow the range or raise limit (next: start='@{headers.get('X-Gridlet-Next-From', '')}')",
                          GridletTruncated, stacklevel=2)
        df = pd.DataFrame(rows, columns=["time", "ts_ms", "source", "type", "severity", "body"])
        df["time"] = pd.to_datetime(df["ts_ms"], unit="ms", utc=True)
        return df.drop(columns=["ts_ms"]).set_index("time")

    def consumption(self, by: str = "total", *, period: str = "day", start: Optional[str] = None,
                    end: Optional[str] = None, fluid: str = "electricity", node: Optional[str] = None,
                    cost: bool = False, kwh: bool = False, local_time: bool = True) -> pd.DataFrame:
        """Consumption of the site model, as `gridlet consumption` gives it.

        by:     total, point, load, group, usage, area, panel_board, node, fluid
        period: 15m, hour, day, week, month, year, in the site's zone
        start, end: local dates or time specs (default: this month so far)
        Returns one row per period (index "start": in the site's zone, or UTC
        with local_time=False) and one column per load, group, ... (NaN: no data).
        """
        text, _ = self._get("/consumption", {
            "by": by, "period": period, "from": start, "to": end, "fluid": fluid, "node": node,
            "cost": "true" if cost else None, "kwh": "true" if kwh else None, "format": "csv"})
        df = pd.read_csv(io.StringIO(text), float_precision="round_trip")
        df["start"] = pd.to_datetime(df["start"], utc=True)
        df = df.set_index("start")
        if local_time:
            df.index = df.index.tz_convert(self.site()["timezone"])
        return df

    def devices(self) -> pd.DataFrame:
        """Devices, indexed by name: plugin, state (online, offline, unknown,
        stopped, left_out), last_poll (UTC), errors, last_error."""
        rows = self._json("/devices")
        df = pd.DataFrame(rows, columns=["name", "plugin", "plugin_state", "state", "last_poll_ms", "errors",
                                         "last_error", "last_error_ms", "comm"])
        df["last_poll"] = pd.to_datetime(df["last_poll_ms"], unit="ms", utc=True)
        return df.drop(columns=["last_poll_ms"]).set_index("name")

    def rules(self) -> list:
        """The rules: status, errors and each one's status document."""
        return self._json("/rules")

    def ev(self) -> list:
        """Green'Up EV charging, one dict per Green'Up rule: area, currents,
        limits and stations (state, setpoint, measured current, session)."""
        return self._json("/ev")

    def live(self, series: str = "", events: str = "", *, timeout: Optional[float] = None):
        """Live samples and events as they come (server-sent events), forever
        or until the gateway ends the stream; an iterator of dicts:
          {"kind": "sample", "series", "time" (UTC Timestamp), "value", "quality"}
          {"kind": "event", "source", "type", "severity", "time", "body"}
        series, events: comma-separated patterns ("panel1/**", "*/alarm*").
        Raises ApiError("dropped") when the gateway dropped this client for
        reading too slowly. timeout: seconds without a byte (the gateway
        sends a keep-alive every 15 s), default none.
        """
        query = urllib.parse.urlencode({k: v for k, v in {"series": series or None, "events": events or None}.items()
                                        if v is not None})
        req = urllib.request.Request(f"{self.url}/api/v1/live?{query}",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Accept": "text/event-stream"})
        try:
            r = urllib.request.urlopen(req, timeout=timeout, context=self._ssl)
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None
        with r:
            kind, data = "message", []
            for raw in r:
                line = raw.decode("utf-8").rstrip("\n").rstrip("\r")
                if line.startswith(":"):
                    continue
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    item = json.loads("\n".join(data))
                    data = []
                    if kind == "dropped":
                        raise ApiError(200, "dropped", item.get("reason", "dropped by the gateway"))
                    for one in item if isinstance(item, list) else [item]:
                        yield _live_item(kind, one)
                    kind = "message"

    def alarms(self, status: str = "open", *, source: Optional[str] = None,
               limit: Optional[int] = None) -> pd.DataFrame:
        """Alarms, newest first (status: open, active, finished, unacknowledged,
        acknowledged, all, ...): one row each, with the record's fields."""
        rows = self._json("/alarms", {"status": status, "source": source, "limit": limit})
        return pd.json_normalize(rows) if rows else pd.DataFrame()


def _live_item(kind: str, item: dict) -> dict:
    out = {"kind": "sample" if kind in ("sample", "samples") else kind, **item}
    if "ts" in out:
        out["time"] = pd.Timestamp(out.pop("ts"), unit="ms", tz="UTC")
    return out


def _api_error(e: urllib.error.HTTPError) -> ApiError:
    """The API's JSON error of an HTTP error answer (its stable code)."""
    body = e.read().decode("utf-8", "replace")
    try:
        err = json.loads(body)["error"]
        return ApiError(e.code, err["code"], err["message"])
    except (ValueError, KeyError, TypeError):
        return ApiError(e.code, "http_error", body or str(e))
