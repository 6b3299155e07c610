"""jupyterhub_config.py for the deployment coursectl is built for.

One hub machine runs JupyterHub and configurable-http-proxy (supervised by
`coursectl up`); students' notebook servers are Docker Swarm services spread
over the nodes; homes live on shared storage (NFS) mounted at the same path on
every node. Point coursectl's `[hub] config-file` at this file. coursectl's own
generated config loads it and then adds, by itself: the proxy outside the hub
(ConfigurableHTTPProxy.should_start = False, api_url, auth token),
JupyterHub.cleanup_servers = False, and its own service and role. Do not set
those here.

Edit the CHANGE ME lines.
"""

import os

from dockerspawner import SwarmSpawner
from traitlets import default

c = get_config()  # noqa: F821

HOME_ROOT = "/home"                       # CHANGE ME: NFS home root on every node
HUB_IP = "10.0.0.1"                       # CHANGE ME: hub machine's address the nodes reach
IMAGE = "registry.example.org/course/notebook:2026"  # CHANGE ME
USER_LABEL = "org.jupyterhub.user"        # = coursectl [docker] user-label


class LabelledSwarmSpawner(SwarmSpawner):
    """SwarmSpawner whose services and containers carry the student's name as a
    label, so coursectl can show placement from Docker alone."""

    def _labels(self):
        labels = {USER_LABEL: self.user.name}
        if self.name:
            labels["org.jupyterhub.servername"] = self.name
        return labels

    async def start(self):
        labels = self._labels()
        create = self.extra_create_kwargs if isinstance(self.extra_create_kwargs, dict) else {}
        self.extra_create_kwargs = {**create, "labels": {**(create.get("labels") or {}), **labels}}
        self.extra_container_spec = {
            **self.extra_container_spec,
            "labels": {**(self.extra_container_spec.get("labels") or {}), **labels},
        }
        return await super().start()

    @default("network_name")
    def _default_network_name(self):
        return "jupyterhub"               # CHANGE ME: an attachable overlay network


# Authentication: your university's (OAuthenticator, LDAP...). CHANGE ME.
# c.JupyterHub.authenticator_class = "generic-oauth"
c.Authenticator.admin_users = {"ta"}

# The hub API where every node's containers reach it.
c.JupyterHub.hub_bind_url = f"http://{HUB_IP}:8081"
c.JupyterHub.hub_connect_url = f"http://{HUB_IP}:8081"

c.JupyterHub.spawner_class = LabelledSwarmSpawner
c.SwarmSpawner.image = IMAGE
c.SwarmSpawner.prefix = "jupyter"         # services named jupyter-{username} (coursectl [docker] name-template)
c.SwarmSpawner.notebook_dir = "/home/jovyan/work"
# Each student's own home, and nothing else, mounted into their container.
c.SwarmSpawner.volumes = {os.path.join(HOME_ROOT, "{username}"): "/home/jovyan/work"}
# Files written in the container belong to its jupyter user (uid 1000), the
# same owner coursectl gives released files ([assignments] owner-uid/gid).
c.SwarmSpawner.extra_container_spec = {"user": "1000:100"}
c.SwarmSpawner.mem_limit = "2G"
c.SwarmSpawner.cpu_limit = 1.0
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
