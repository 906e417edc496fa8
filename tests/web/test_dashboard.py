"""The dashboard in a real headless Chromium against the real gridlet running
the demo site: log in, the overview, live values that change, an alarm
acknowledged with a comment (and seen so by `gridlet alarms`), and a viewer
who sees no acknowledge button and whom the API refuses."""

import json
import os
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from conftest import login, number


def test_login_overview_and_the_header(browser, demo, screenshots):
    wait = login(browser, demo, "admin")
    header = browser.find_element(By.CSS_SELECTOR, "header.top").text
    assert "ada (admin)" in header
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=site-name]"), "web-test-"))
    tile = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=tile-alarms]")))
    assert "critical" in tile.text
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=tile-devices]")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=tile-ev]")))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=tile-demand]")))
    # The site's power now, as the model counts the total: both panels' mains and the building.
    wait.until(lambda d: number(d.find_element(By.CSS_SELECTOR, "[data-test=site-power]").text) is not None)
    shown = number(browser.find_element(By.CSS_SELECTOR, "[data-test=site-power]").text)
    parts = [last_value(demo, s) for s in ("panel1/mains/kw", "panel2/mains/kw", "bldg/power")]
    assert None not in parts, parts
    assert abs(shown - sum(parts)) <= 0.15 * sum(parts), (shown, parts)
    browser.save_screenshot(os.path.join(screenshots, "overview.png"))
    # A wrong password is said, and nothing else is shown.
    browser.delete_all_cookies()
    browser.get(demo.url)
    wait.until(EC.presence_of_element_located((By.NAME, "user"))).send_keys("ada")
    browser.find_element(By.NAME, "password").send_keys("not the password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
    assert "wrong" in alert.text


def test_live_values_change_without_a_reload(browser, demo, screenshots):
    wait = login(browser, demo, "viewer")
    browser.get(demo.url + "#/devices")
    wait.until(EC.presence_of_element_located((By.XPATH, "//table[@data-test='devices']//button[text()='panel1']"))).click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=live-state]"), "live"))
    cell = "tr[data-series='panel1/mains/kw'] [data-test=value]"
    wait.until(lambda d: number(d.find_element(By.CSS_SELECTOR, cell).text) is not None)
    first = browser.find_element(By.CSS_SELECTOR, cell).text
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, cell).text != first)
    # The BCPM panel: 84 branches, and the demo's branch 7, at 110 % of its breaker, red.
    grid = browser.find_element(By.CSS_SELECTOR, "[data-test=panel-grid]")
    # (The demo's BCPM has 84 channels: two panels of 42.)
    assert len(grid.find_elements(By.CSS_SELECTOR, "[data-branch]")) == 42
    seven = grid.find_element(By.CSS_SELECTOR, "[data-branch='7']")
    wait.until(lambda d: "load-over" in seven.get_attribute("class"))
    seven.click()
    detail = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=branch-detail]")))
    assert "breaker_size" in detail.text and "Branch 7" in detail.text
    browser.save_screenshot(os.path.join(screenshots, "devices.png"))


def open_overload_alarm(browser, demo, wait):
    # The demo's branch 7 of panel 1 runs at 110 % of its breaker: the alarm comes within a minute.
    deadline = time.time() + 90
    while time.time() < deadline:
        alarms = json.loads(demo.cli("alarms", "--format", "json"))
        if any(a["name"] == "branch_overload" for a in alarms):
            break
        time.sleep(1)
    browser.get(demo.url + "#/alarms")
    button = wait.until(EC.element_to_be_clickable(
        (By.XPATH, "//table[@data-test='alarms']//button[starts-with(text(), 'branch_overload')]")))
    button.click()
    return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=alarm-detail]")))


def test_an_operator_acknowledges_an_alarm_with_a_comment(browser, demo, screenshots):
    wait = login(browser, demo, "operator")
    detail = open_overload_alarm(browser, demo, wait)
    detail.find_element(By.NAME, "comment").send_keys("breaker checked")
    detail.find_element(By.CSS_SELECTOR, "[data-test=acknowledge]").click()
    acked = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=acked]")))
    assert "otto" in acked.text and "breaker checked" in acked.text
    browser.save_screenshot(os.path.join(screenshots, "alarms.png"))
    alarms = json.loads(demo.cli("alarms", "--status", "all", "--format", "json"))
    ours = [a for a in alarms if a["name"] == "branch_overload" and a.get("ack")]
    assert ours and ours[0]["ack"]["by"] == "otto" and ours[0]["ack"]["comment"] == "breaker checked", alarms


def test_a_viewer_sees_no_acknowledge_button_and_the_api_refuses_it(browser, demo):
    wait = login(browser, demo, "viewer")
    detail = open_overload_alarm(browser, demo, wait)
    assert not detail.find_elements(By.CSS_SELECTOR, "[data-test=acknowledge]")
    answer = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const me = await (await fetch('/api/v1/me')).json();
          const alarms = await (await fetch('/api/v1/alarms?status=all')).json();
          const r = await fetch('/api/v1/alarms/' + alarms[0].id + '/acknowledge', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token}, body: '{}'});
          done({status: r.status, body: await r.json()});
        })().catch(e => done({error: String(e)}));
    """)
    assert answer.get("status") == 403, answer
    assert answer["body"]["error"]["code"] == "forbidden"


def last_value(demo, series):
    answer = json.loads(demo.cli("query", series, "--from", "-30s", "--format", "json"))
    points = answer[0]["points"] if answer else []
    return points[-1]["value"] if points else None


def test_an_operator_makes_a_station_wait_and_the_simulator_gets_the_setpoint(browser, demo, screenshots):
    wait = login(browser, demo, "operator")
    browser.get(demo.url + "#/ev")
    # ev1's vehicle arrives 5 s after the start and stays 15 minutes.
    row = "//table[@data-test='stations']//tr[@data-station='ev1']"
    button = wait.until(EC.element_to_be_clickable((By.XPATH, row + "//button[@data-test='ev-wait']")))
    wait.until(lambda d: last_value(demo, "ev1/enable") == 1)
    browser.save_screenshot(os.path.join(screenshots, "ev.png"))
    button.click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=ev-notice]"), "Sent"))
    # The rule holds the session: it disables the station, and the simulator's
    # register, read back over Modbus, says so.
    wait.until(lambda d: last_value(demo, "ev1/enable") == 0)
    wait.until(EC.text_to_be_present_in_element((By.XPATH, row), "Wait"))
    audit = json.loads(demo.cli("events", "--type", "audit", "--from", "-10m", "--format", "json"))
    assert any(e["body"]["action"] == "ev_override" and e["body"]["user"] == "otto" for e in audit), audit
    # A viewer sees no override buttons.
    browser.delete_all_cookies()
    login(browser, demo, "viewer")
    browser.get(demo.url + "#/ev")
    wait.until(EC.presence_of_element_located((By.XPATH, row)))
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=ev-wait]")


def test_the_consumption_chart_and_table_say_what_the_api_says(browser, demo, screenshots):
    wait = login(browser, demo, "viewer")
    # The page's default question (the last 7 days by load), asked of the API
    # before and after the page asks it: the demo's counters only grow, so the
    # page's totals lie between the two answers.
    ask = """
        const done = arguments[arguments.length - 1];
        const day = (n) => { const d = new Date(); d.setDate(d.getDate() + n);
          return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); };
        fetch('/api/v1/consumption?by=load&period=day&from=' + day(-6) + '&to=' + day(1) + '&format=json')
          .then(r => r.json()).then(done, e => done({error: String(e)}));
    """
    before = browser.execute_async_script(ask)
    browser.get(demo.url + "#/consumption")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=chart] canvas")))
    total = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=consumption-total]")))
    legend = browser.find_element(By.CSS_SELECTOR, "[data-test=chart]").text
    assert "lighting" in legend.lower() and "heating" in legend.lower(), legend
    cells = [c.text for c in total.find_elements(By.CSS_SELECTOR, "td")]
    after = browser.execute_async_script(ask)
    assert len(cells) == len(after["columns"]) == len(before["columns"]), (cells, after)
    for cell, old, new in zip(cells, before["columns"], after["columns"]):
        if new["total"] is None:
            assert cell == "–"
            continue
        shown = number(cell)
        assert (old["total"] or 0) - 0.0015 <= shown <= new["total"] + 0.0015, (cell, old, new)
    browser.save_screenshot(os.path.join(screenshots, "consumption.png"))


def test_trends_draw_a_chosen_series(browser, demo, screenshots):
    wait = login(browser, demo, "viewer")
    browser.get(demo.url + "#/trends?series=panel1/mains/kw")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=chart] canvas")))
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=trend-step]"), "raw samples"))
    # A second series, found by a part of its name and ticked: both on one chart.
    browser.find_element(By.NAME, "pattern").send_keys("panel2/mains/k")
    box = wait.until(EC.element_to_be_clickable(
        (By.XPATH, "//ul[contains(@class,'series-list')]//label[starts-with(normalize-space(.), 'panel2/mains/kw ')]/input")))
    box.click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=chart]"), "panel2/mains/kw"))
    assert "panel1/mains/kw" in browser.find_element(By.CSS_SELECTOR, "[data-test=chart]").text
    browser.find_element(By.XPATH, "//button[text()='7d']").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=trend-step]"), "averages per 15m"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]
              and "/api/v1/me" not in e["message"]]
    assert not errors, errors
    browser.save_screenshot(os.path.join(screenshots, "trends.png"))


def png(path, width=400, height=300):
    """A plain PNG of the given size (a floor plan's picture)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes([230, 236, 242]) * width for _ in range(height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def test_an_admin_places_a_live_value_on_a_floor_plan_and_a_viewer_sees_it(browser, demo, screenshots, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    wait = login(browser, demo, "admin")
    browser.get(demo.url + "#/plans")
    wait.until(EC.presence_of_element_located((By.NAME, "name"))).send_keys("Ground floor")
    browser.find_element(By.CSS_SELECTOR, "[data-test=plan-add]").click()
    upload = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=plan-image]")))
    upload.send_keys(png(str(tmp_path / "floor.png")))
    picture = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=plan] img")))
    wait.until(lambda d: picture.size["width"] > 100)
    browser.find_element(By.CSS_SELECTOR, "[data-test=plan-edit]").click()
    ActionChains(browser).move_to_element_with_offset(picture, -50, 0).click().perform()
    form = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=new-item]")))
    Select(form.find_element(By.NAME, "kind")).select_by_value("value")
    form.find_element(By.NAME, "target").send_keys("panel1/mains/kw")
    form.find_element(By.NAME, "label").send_keys("Mains")
    form.find_element(By.CSS_SELECTOR, "[data-test=item-add]").click()
    browser.find_element(By.CSS_SELECTOR, "[data-test=plan-save]").click()
    wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, "[data-test=plan-save]")))
    value = "[data-test=plan] [data-item='0'] [data-test=item-value]"
    wait.until(lambda d: "kW" in d.find_element(By.CSS_SELECTOR, value).text)
    browser.save_screenshot(os.path.join(screenshots, "floorplan.png"))
    # A viewer sees the value change, and no way to edit.
    browser.delete_all_cookies()
    login(browser, demo, "viewer")
    browser.get(demo.url + "#/plans")
    first = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, value))).text
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, value).text != first)
    assert "Mains" in browser.find_element(By.CSS_SELECTOR, "[data-test=plan]").text
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=plan-edit]")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-test=plan-image]")


def test_the_events_tab_and_an_admin_sees_the_audit(browser, demo):
    wait = login(browser, demo, "admin")
    browser.get(demo.url + "#/alarms")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-test=tab-events]"))).click()
    table = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=events]")))
    wait.until(lambda d: "audit" in d.find_element(By.CSS_SELECTOR, "[data-test=events]").text)
    assert "ada" in table.text


def test_the_dashboard_goes_on_after_the_gateway_restarts(browser, demo, screenshots):
    wait = login(browser, demo, "viewer")
    browser.get(demo.url + "#/devices")
    wait.until(EC.presence_of_element_located((By.XPATH, "//table[@data-test='devices']//button[text()='main']"))).click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=live-state]"), "live"))
    demo.restart()
    # The session outlived the restart: no login page; the live stream comes back by itself.
    cell = "tr[data-series='main/current/l1'] [data-test=value]"
    first = browser.find_element(By.CSS_SELECTOR, cell).text
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, cell).text != first)
    assert not browser.find_elements(By.NAME, "password")
    assert "live" in browser.find_element(By.CSS_SELECTOR, "[data-test=live-state]").text


def test_a_tablet_in_portrait_has_every_page_without_sideways_scrolling(browser, demo, screenshots):
    browser.set_window_size(768, 1024)
    wait = login(browser, demo, "operator")
    for page in ("", "#/devices", "#/alarms", "#/ev", "#/consumption", "#/trends", "#/plans"):
        browser.get(demo.url + page)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main#main h1")))
        time.sleep(0.5)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (page, overflow)
    browser.get(demo.url)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "[data-test=tile-alarms]")))
    browser.save_screenshot(os.path.join(screenshots, "overview-tablet.png"))
    # The keyboard reaches the navigation: Tab from the top lands on a link.
    from selenium.webdriver.common.keys import Keys
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.tag_name in ("a", "button")
