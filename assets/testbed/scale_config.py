"""JupyterHub config for coursectl scale tests: thousands of users with cheap fake "servers".

Loaded by coursectl's generated config with `load_subconfig(<this file>)`; like
swarm_config.py it sets no proxy settings, no bind_url, no cleanup_servers, no services.

A "server" is not a process: FakeServerSpawner.start() returns the address of one tiny HTTP
server shared by all fake servers, started lazily inside the hub process (127.0.0.1, port
FakeServerSpawner.fake_port, default hub port + 1, env TESTBED_SCALE_FAKE_PORT). It answers every GET with 200 + a small JSON body,
so the hub's readiness check and requests routed through the proxy succeed. poll() returns
None while the spawner believes the server runs (this survives a hub restart through the
spawner state), so the hub keeps it "running" until stopped.

Hub API on 127.0.0.1:18081 (env TESTBED_SCALE_HUB_PORT to change).
"""

import asyncio
import json
import os

from jupyterhub.spawner import Spawner
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Float, Integer, Unicode

c = get_config()  # noqa: F821

HUB_PORT = int(os.environ.get("TESTBED_SCALE_HUB_PORT", "18081"))
FAKE_PORT = int(os.environ.get("TESTBED_SCALE_FAKE_PORT", str(HUB_PORT + 1)))

_FAKE_SERVERS = {}  # (ip, port) -> HTTPServer


class _AnyHandler(web.RequestHandler):
    def _answer(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"version": "fake", "path": self.request.path}))

    def get(self, *args):
        self._answer()

    head = get

    def post(self, *args):
        self._answer()


def _ensure_fake_server(ip, port):
    key = (ip, port)
    if key not in _FAKE_SERVERS:
        app = web.Application([(r"/.*", _AnyHandler)], log_function=lambda h: None)
        server = HTTPServer(app, xheaders=True)
        server.listen(port, address=ip)
        _FAKE_SERVERS[key] = server
    return key


class FakeServerSpawner(Spawner):
    """A spawner whose servers are one shared in-process HTTP endpoint."""

    fake_ip = Unicode("127.0.0.1", config=True)
    fake_port = Integer(FAKE_PORT, config=True)
    fake_start_delay = Float(0.0, config=True, help="seconds start() takes (simulated)")

    _running = False

    async def start(self):
        _ensure_fake_server(self.fake_ip, self.fake_port)
        if self.fake_start_delay:
            await asyncio.sleep(self.fake_start_delay)
        self._running = True
        return (self.fake_ip, self.fake_port)

    async def poll(self):
        if self._running:
            _ensure_fake_server(self.fake_ip, self.fake_port)  # after a hub restart
            return None
        return 0

    async def stop(self, now=False):
        self._running = False

    def get_state(self):
        state = super().get_state()
        if self._running:
            state["fake_running"] = True
        return state

    def load_state(self, state):
        super().load_state(state)
        self._running = bool(state.get("fake_running"))

    def clear_state(self):
        super().clear_state()
        self._running = False


c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("TESTBED_HUB_PASSWORD", "testpass")
c.Authenticator.admin_users = {"ta"}
c.Authenticator.allow_all = True

c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{HUB_PORT}"
c.JupyterHub.spawner_class = FakeServerSpawner
c.JupyterHub.last_activity_interval = 30
c.JupyterHub.concurrent_spawn_limit = 0  # no limit: fake spawns are instant
c.JupyterHub.active_server_limit = 0
c.Spawner.http_timeout = 30
c.Spawner.start_timeout = 60
