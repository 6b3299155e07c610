"""JupyterHub config for the coursectl test bed: real SwarmSpawner servers on a 3-node Swarm.

Loaded by coursectl's generated jupyterhub_config.py with `load_subconfig(<this file>)`.
coursectl itself sets, after loading this file: the proxy (ConfigurableHTTPProxy.should_start =
False, api_url, auth_token), c.JupyterHub.bind_url (public proxy address),
c.JupyterHub.cleanup_servers = False, its own service + role. This file sets none of those.

What it sets up:
- DummyAuthenticator (password "testpass"), admin "ta", every user allowed.
- Hub API on 10.213.7.1:8081 (the testbed bridge) so servers on every node reach it.
- CoursectlSwarmSpawner: one Swarm service `jupyter-<username>` per server, on the node's
  `host` network, on a port picked by the spawner; get_ip_and_port() returns the address of the
  node the task landed on. Labels `org.jupyterhub.user=<username>` on the service and on its
  container spec (so on the task containers too). Home /srv/coursectl-testbed/homes/<username>
  (created, owned by uid 1000) is bind-mounted at /home/jupyter/work.

Environment overrides (optional): TESTBED_HUB_IP, TESTBED_HUB_PORT, TESTBED_HOMES,
TESTBED_IMAGE, TESTBED_HUB_PASSWORD.
"""

import os
import random

from dockerspawner import SwarmSpawner
from traitlets import Integer, Tuple, Unicode, default

c = get_config()  # noqa: F821  (provided by JupyterHub's config loader)

HUB_IP = os.environ.get("TESTBED_HUB_IP", "10.213.7.1")
HUB_PORT = int(os.environ.get("TESTBED_HUB_PORT", "8081"))
HOMES = os.environ.get("TESTBED_HOMES", "/srv/coursectl-testbed/homes")
IMAGE = os.environ.get("TESTBED_IMAGE", "coursectl-singleuser:test")
USER_LABEL = "org.jupyterhub.user"
PORT_LABEL = "org.coursectl.testbed.port"
IMAGE_LABEL = "org.coursectl.testbed.image"



def _image_ref(name):
    """Reference the image by id: a Swarm task whose image is given by id is never pulled
    (by name, every node first tries a registry, which is unreachable here: slower spawns and
    failed lookups). The id is the same on every node (docker save | docker load).
    TESTBED_IMAGE_BY_ID=0 keeps the name."""
    if os.environ.get("TESTBED_IMAGE_BY_ID", "1") == "0":
        return name
    try:
        import docker

        client = docker.APIClient(version="auto", **docker.utils.kwargs_from_env())
        return client.inspect_image(name)["Id"]
    except Exception:
        return name


# ports handed out by this hub process and not yet released (spawns run concurrently)
_PORTS_IN_FLIGHT = set()


class CoursectlSwarmSpawner(SwarmSpawner):
    """SwarmSpawner on the nodes' host network, reachable at <node address>:<picked port>."""

    port_range = Tuple(
        (20000, 39999), config=True, help="Range the per-server host port is picked from"
    )
    home_root = Unicode(HOMES, config=True, help="Host dir holding per-user homes")
    home_uid = Integer(1000, config=True, help="Owner uid of a created home dir")
    home_gid = Integer(1000, config=True, help="Owner gid of a created home dir")

    @default("network_name")
    def _default_network_name(self):
        return "host"

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        # no published (ingress) ports: the server listens on the node's own network
        return True

    def _labels(self):
        labels = {USER_LABEL: self.user.name, PORT_LABEL: str(self.port), IMAGE_LABEL: IMAGE}
        if self.name:
            labels["org.jupyterhub.servername"] = self.name
        return labels

    async def _pick_port(self):
        used = set(_PORTS_IN_FLIGHT)
        try:
            services = await self.docker("services", filters={"label": PORT_LABEL})
        except Exception as e:  # pragma: no cover - best effort only
            self.log.warning("could not list services to avoid port clashes: %s", e)
            services = []
        for s in services:
            p = (s.get("Spec", {}).get("Labels") or {}).get(PORT_LABEL)
            if p and p.isdigit():
                used.add(int(p))
        lo, hi = self.port_range
        for _ in range(1000):
            p = random.randint(lo, hi)
            if p not in used:
                break
        _PORTS_IN_FLIGHT.add(p)
        return p

    def _ensure_homes(self):
        root = os.path.realpath(self.home_root)
        for host_loc in self.volume_binds:
            path = os.path.realpath(host_loc)
            if path == root or not path.startswith(root + os.sep):
                continue
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
                os.chown(path, self.home_uid, self.home_gid)
                self.log.info("created home %s", path)

    async def start(self):
        # SwarmSpawner always removes an old service first (remove=True): new port each start.
        self.port = await self._pick_port()
        labels = self._labels()
        create = self.extra_create_kwargs if isinstance(self.extra_create_kwargs, dict) else {}
        self.extra_create_kwargs = {
            **create,
            "labels": {**(create.get("labels") or {}), **labels},
        }
        self.extra_container_spec = {
            **self.extra_container_spec,
            "labels": {**(self.extra_container_spec.get("labels") or {}), **labels},
        }
        self._ensure_homes()
        try:
            return await super().start()
        finally:
            _PORTS_IN_FLIGHT.discard(self.port)

    async def get_ip_and_port(self):
        task = await self.get_task()
        if not task or not task.get("NodeID"):
            raise RuntimeError(f"no task/node for service {self.service_name}")
        node = await self.docker("inspect_node", task["NodeID"])
        addr = (node.get("Status") or {}).get("Addr") or ""
        if addr in ("", "0.0.0.0"):
            addr = ((node.get("ManagerStatus") or {}).get("Addr") or "").rsplit(":", 1)[0]
        if not addr:
            raise RuntimeError(f"no address for node {task['NodeID']}")
        return addr, self.port

    def get_state(self):
        state = super().get_state()
        if state.get("object_id"):
            state["port"] = self.port
        return state

    def load_state(self, state):
        super().load_state(state)
        if state.get("port"):
            self.port = int(state["port"])


# ---- authentication
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ.get("TESTBED_HUB_PASSWORD", "testpass")
c.Authenticator.admin_users = {"ta"}
c.Authenticator.allow_all = True

# ---- hub API where every node reaches it
c.JupyterHub.hub_bind_url = f"http://{HUB_IP}:{HUB_PORT}"
c.JupyterHub.hub_connect_url = f"http://{HUB_IP}:{HUB_PORT}"
c.JupyterHub.last_activity_interval = 30

# ---- spawner
c.JupyterHub.spawner_class = CoursectlSwarmSpawner
c.SwarmSpawner.image = _image_ref(IMAGE)
c.SwarmSpawner.prefix = "jupyter"  # service name jupyter-{username}
c.SwarmSpawner.cmd = ["/opt/venv/bin/jupyterhub-singleuser"]
c.SwarmSpawner.volumes = {os.path.join(HOMES, "{username}"): "/home/jupyter/work"}
c.SwarmSpawner.pull_policy = "skip"  # no registry: images are loaded on every node
# SwarmSpawner.remove is fixed to True: a stopped server's service is removed.
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": "30"}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
