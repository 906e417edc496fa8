"""A running gridlet for the client's tests: the hello plugin as a source
(d1, d2 counting every 50 ms; the site model's two points), the HTTP API on a free loopback port with its
generated certificate, an admin and a viewer token made with the CLI.

The build folder comes from GRIDLET_BUILD_DIR (CTest sets it)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("GRIDLET_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
GRIDLET = os.path.join(BUILD, "gridlet")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.site = os.path.join(folder, "site.toml")
        with open(self.site, "w") as f:
            f.write(f'[site]\nname = "pyclient-{os.getpid()}-{self.port}"\ntimezone = "Europe/Paris"\n'
                    f'[store]\npath = "{folder}/store"\n[http]\nport = {self.port}\n'
                    f'[[plugins]]\nname = "hello"\nfile = "{BUILD}/plugins/hello.so"\n[plugins.config]\n'
                    f'interval_ms = 50\n[[devices]]\nname = "d1"\nplugin = "hello"\n'
                    f'[[devices]]\nname = "d2"\nplugin = "hello"\n'
                    f'[model]\n[[model.points]]\nname = "d1"\nenergy = "d1/count"\n'
                    f'[[model.points]]\nname = "d2"\nenergy = "d2/count"\n')
        self.cli("user", "add", "alice", "--role", "admin", "--password-stdin", input="alice password 42\n")
        self.token = self.cli("token", "add", "pytest", "--user", "alice", "--role", "viewer").strip()
        self.admin_token = self.cli("token", "add", "pytest-admin", "--user", "alice", "--role", "admin").strip()
        self.cert = os.path.join(folder, "http", "tls", "cert.pem")
        self.log = open(os.path.join(folder, "run.log"), "w")
        self.proc = subprocess.Popen([GRIDLET, "run", self.site], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(os.path.join(folder, "run.log")) as f:
                if "http: API on" in f.read():
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("gridlet did not start its API")
        self.url = f"https://127.0.0.1:{self.port}"

    def cli(self, *args, input=None):
        r = subprocess.run([GRIDLET, *args, "--config", self.site], input=input, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


@pytest.fixture(scope="session")
def gateway():
    folder = tempfile.mkdtemp(prefix="gridlet-pyclient-")
    gw = Gateway(folder)
    time.sleep(1.0)  # about 20 samples of each device
    yield gw
    gw.stop()
    shutil.rmtree(folder, ignore_errors=True)
