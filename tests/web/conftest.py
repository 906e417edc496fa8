"""The demo site (config/demo.toml) run by the real gridlet for the browser
tests: on free loopback ports of its own (simulators and HTTPS), its own
store, three accounts made with the CLI (an admin, an operator, a viewer),
and Debian's Chromium driven headless by Selenium (chromium-driver).
Screenshots go to <build>/web-screenshots."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("GRIDLET_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
GRIDLET = os.path.join(BUILD, "gridlet")
ACCOUNTS = {"admin": ("ada", "admin password 42"), "operator": ("otto", "operator password 42"),
            "viewer": ("vera", "viewer password 42")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        text = open(os.path.join(SOURCE, "config/demo.toml")).read()
        for fixed in ("15020", "15030", "15040"):
            text = text.replace(fixed, str(free_port()))
        text = text.replace("port = 8443", f"port = {self.port}")
        text = text.replace('name = "demo"', f'name = "web-test-{os.getpid()}"', 1)
        text = text.replace('"../var/', f'"{folder}/var/').replace('"../scripts/', f'"{SOURCE}/scripts/')
        self.site = os.path.join(folder, "demo.toml")
        with open(self.site, "w") as f:
            f.write(text)
        for role, (name, password) in ACCOUNTS.items():
            self.cli("user", "add", name, "--role", role, "--password-stdin", input=password + "\n")
        self.log_path = os.path.join(folder, "run.log")
        self.start()
        self.url = f"https://127.0.0.1:{self.port}/"

    def start(self):
        self.log = open(self.log_path, "a")
        mark = len(self.read_log())
        self.proc = subprocess.Popen([GRIDLET, "run", self.site], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if "http: dashboard on" in self.read_log()[mark:]:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("gridlet stopped: " + self.read_log()[-3000:])
            time.sleep(0.1)
        raise RuntimeError("gridlet did not serve the dashboard: " + self.read_log()[-3000:])

    def restart(self):
        self.stop()
        self.start()

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def cli(self, *args, input=None):
        r = subprocess.run([GRIDLET, *args, "--config", self.site], input=input, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def demo():
    if not os.path.exists(os.path.join(BUILD, "web", "index.html")):
        pytest.fail(f"no dashboard build in {BUILD}/web: the build needs node and `npm ci --prefix web` "
                    "(bash .ci/setup)")
    folder = tempfile.mkdtemp(prefix="gridlet-web-")
    d = Demo(folder)
    yield d
    d.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshots():
    folder = os.path.join(BUILD, "web-screenshots")
    os.makedirs(folder, exist_ok=True)
    return folder


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not shutil.which("chromium") or not os.path.exists("/usr/bin/chromedriver"):
        pytest.fail("chromium and chromium-driver are not installed (bash .ci/setup installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--ignore-certificate-errors",
              "--window-size=1280,900", "--disable-gpu", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def login(driver, demo, role):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    name, password = ACCOUNTS[role]
    driver.get(demo.url)
    wait = WebDriverWait(driver, 20)
    wait.until(EC.presence_of_element_located((By.NAME, "user"))).send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-test=who]"), name))
    return wait


def number(text):
    m = re.search(r"-?[\d.,]+", text.replace("\u202f", "").replace("\xa0", ""))
    return float(m.group(0).replace(",", "")) if m else None
