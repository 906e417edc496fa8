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
from typing import Any, Optional

import pandas as pd


class ApiError(Exception):
    """An answer of the API other than 2xx: .status (HTTP), .code (stable), .message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


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

    def _get(self, path: str, params: Optional[dict] = None) -> tuple[str, str]:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        req = urllib.request.Request(f"{self.url}/api/v1{path}" + (f"?{query}" if query else ""),
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as r:
                return r.read().decode("utf-8"), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            body = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(body)["error"]
                raise ApiError(e.code, err["code"], err["message"]) from None
            except (ValueError, KeyError, TypeError):
                raise ApiError(e.code, "http_error", body or str(e)) from None

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

    def alarms(self, status: str = "open", *, source: Optional[str] = None,
               limit: Optional[int] = None) -> pd.DataFrame:
        """Alarms, newest first (status: open, active, finished, unacknowledged,
        acknowledged, all, ...): one row each, with the record's fields."""
        rows = self._json("/alarms", {"status": status, "source": source, "limit": limit})
        return pd.json_normalize(rows) if rows else pd.DataFrame()
