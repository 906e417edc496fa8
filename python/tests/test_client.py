"""gridlet.Client against a real gridlet (conftest.py): DataFrames with a UTC
DatetimeIndex (or the site's zone on request) holding exactly what
`gridlet query` prints, series and alarms, errors with their stable code,
and the package installing with pip."""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import gridlet  # noqa: E402


def _login(client, user, password):
    """A login through the API (it makes an audit event, ok or refused)."""
    req = urllib.request.Request(f"{client.url}/api/v1/login", method="POST",
                                 data=json.dumps({"user": user, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, context=client._ssl, timeout=30).read()
    except urllib.error.HTTPError as e:
        raise gridlet.client._api_error(e) from None


@pytest.fixture(scope="module")
def client(gateway):
    return gridlet.Client(gateway.url, gateway.token, cafile=gateway.cert)


def test_query_is_a_dataframe_with_a_utc_index_holding_what_the_cli_prints(client, gateway):
    df = client.query("d1/count", start="-1h")
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert list(df.columns) == ["series", "value", "quality"]
    assert len(df) >= 10
    assert (df["series"] == "d1/count").all()
    assert (df["quality"] == 192).all()
    assert df["value"].diff().dropna().eq(1).all(), "a counter going on by one: nothing lost"
    # The same range through the CLI: the same values and times.
    start, end = f"@{df.index[0].value // 1_000_000}", f"@{df.index[-1].value // 1_000_000 + 1}"
    api = client.query("d1/count", start=start, end=end)
    cli = pd.read_csv(io.StringIO(gateway.cli("query", "d1/count", "--from", start, "--to", end)),
                      float_precision="round_trip")
    assert list(api["value"]) == list(cli["value"])
    assert list(api.index) == list(pd.to_datetime(cli["time"], utc=True))


def test_local_time_wide_and_aggregates(client):
    local = client.query("d1/count", start="-1h", local_time=True)
    assert str(local.index.tz) == "Europe/Paris"
    wide = client.query("d*/count", start="-1h", wide=True, quality=False)
    assert set(wide.columns) == {"d1/count", "d2/count"}
    agg = client.query("d1/count", start="-1h", step="1h", agg="max")
    assert list(agg.columns) == ["series", "value"]
    assert agg["value"].iloc[-1] >= 10


def test_series_site_me_and_metrics(client):
    s = client.series("d*/count")
    assert "d1/count" in s.index and "d2/count" in s.index
    assert s.loc["d1/count", "kind"] == "counter"
    assert s.loc["d1/count", "tags"]["device"] == "d1"
    assert str(s["last_time"].dt.tz) == "UTC"
    assert client.site()["timezone"] == "Europe/Paris"
    assert client.me()["role"] == "viewer"
    assert client.metrics()["plugins"]["hello"]["samples_out"] > 0
    assert client.alarms().empty


@pytest.fixture(scope="module")
def admin(gateway):
    return gridlet.Client(gateway.url, gateway.admin_token, cafile=gateway.cert)


def test_events_devices_rules_and_consumption(client, admin):
    # The audit events are for admins and security officers: a viewer is refused them, and
    # they are left out of its other answers.
    with pytest.raises(gridlet.ApiError) as refused:
        client.events(type="audit", start="-1h")
    assert refused.value.status == 403
    assert (client.events(start="-1h")["type"] != "audit").all()
    client = admin
    ev = client.events(type="audit", start="-1h")
    assert str(ev.index.tz) == "UTC"
    assert list(ev.columns) == ["source", "type", "severity", "body"]
    assert (ev["type"] == "audit").all()
    assert client.events(type="no_such_type").empty
    # More events than the limit: the oldest are sent, and a warning says so.
    # Two failed logins make two audit events.
    for _ in range(2):
        with pytest.raises(gridlet.ApiError):
            _login(client, "nobody", "wrong password")
    for _ in range(50):
        ev = client.events(type="audit", start="-1h")
        if len(ev) >= 2:
            break
        time.sleep(0.1)
    assert len(ev) >= 2, ev
    with pytest.warns(gridlet.GridletTruncated, match="only the oldest 1 of the range"):
        one = client.events(type="audit", start="-1h", limit=1)
    assert len(one) == 1 and one.index[0] == ev.index[0]
    # Paging by X-Gridlet-Next-From, one event a page: every event once, in order.
    start, seen = "-1h", []
    for _ in range(len(ev) + 5):
        text, headers = client._get("/events", {"type": "audit", "from": start, "limit": 1, "format": "json"})
        seen += [(e["ts_ms"], json.dumps(e["body"], sort_keys=True)) for e in json.loads(text)]
        if headers.get("X-Gridlet-Truncated") != "true":
            break
        start = "@" + headers["X-Gridlet-Next-From"]
    whole = json.loads(client._get("/events", {"type": "audit", "from": "-1h", "format": "json"})[0])
    assert seen[: len(whole)] == [(e["ts_ms"], json.dumps(e["body"], sort_keys=True)) for e in whole]
    dev = client.devices()
    assert list(dev.index) == ["d1", "d2"]
    assert (dev["plugin"] == "hello").all()
    assert client.rules() == [] and client.ev() == []
    c = client.consumption("point", period="hour", start="today")
    assert {"d1", "d2"} <= set(c.columns)
    assert str(c.index.tz) == "Europe/Paris"
    assert c["d1"].dropna().sum() >= 10, "d1 counts every 50 ms"
    with pytest.raises(gridlet.ApiError) as e:  # bounded like a query
        client.consumption("point", period="15m", start="2000-01-01")
    assert e.value.code == "invalid_request" and "periods" in e.value.message


def test_live_iterator_yields_samples_as_they_come(client):
    it = client.live(series="d1/count", timeout=10)
    got = [next(it) for _ in range(5)]
    it.close()
    assert all(x["kind"] == "sample" and x["series"] == "d1/count" for x in got)
    assert str(got[0]["time"].tz) == "UTC"
    values = [x["value"] for x in got]
    assert values == sorted(values) and values[-1] > values[0]
    with pytest.raises(gridlet.ApiError) as e:
        next(client.live())
    assert e.value.code == "invalid_request"


def test_errors_carry_the_apis_stable_code(client, gateway):
    with pytest.raises(gridlet.ApiError) as e:
        client.query("d1/count", start="yesterdayish")
    assert e.value.status == 400 and e.value.code == "invalid_request" and "from: " in e.value.message
    with pytest.raises(gridlet.ApiError) as e:
        client.query("nothing/here")
    assert e.value.code == "not_found"
    with pytest.raises(gridlet.ApiError) as e:
        gridlet.Client(gateway.url, "glt_forged", cafile=gateway.cert).site()
    assert e.value.status == 401 and e.value.code == "unauthorized"
    with pytest.raises(Exception):  # the certificate is checked: not the system's CAs
        gridlet.Client(gateway.url, gateway.token).site()


def test_the_package_installs_with_pip():
    with tempfile.TemporaryDirectory() as tmp:
        venv = os.path.join(tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
        pip = os.path.join(venv, "bin", "pip")
        # A copy: building in place would leave build/ and *.egg-info in the repository.
        src = os.path.join(tmp, "src")
        shutil.copytree(os.path.join(os.path.dirname(__file__), ".."), src,
                        ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
        r = subprocess.run([pip, "install", "--no-deps", "--no-build-isolation", "--no-index", src],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([os.path.join(venv, "bin", "python"), "-c", "import gridlet; print(gridlet.__version__)"],
                           capture_output=True, text=True, cwd=tmp)
        assert r.stdout.strip() == "0.1.0", r.stderr
