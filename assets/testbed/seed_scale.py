#!/usr/bin/env python3
"""Seed a JupyterHub with many users and running servers through its REST API (stdlib only).

  seed_scale.py --hub-api http://127.0.0.1:18081/hub/api --token TOKEN --users 2000 \
                --start-fraction 0.5 [--prefix student] [--concurrency 16] [--timeout 900]
  seed_scale.py ... --stop          # stop the servers of those users instead (and wait)
  seed_scale.py ... --delete        # stop and delete those users

Users are named <prefix><NNNN> (zero-padded to 4 digits): student0000, student0001, ...
The first round(N * fraction) of them get a server. The token needs admin:users and
admin:servers (e.g. a service with those scopes, or an admin user's token); it may also come
from $JUPYTERHUB_API_TOKEN. Prints a JSON summary line on stdout; exit 1 on timeout/errors.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PAGINATION = "application/jupyterhub-pagination+json"


class Hub:
    def __init__(self, api, token, timeout=60):
        self.api = api.rstrip("/")
        self.token = token
        self.timeout = timeout

    def req(self, method, path, body=None, accept=None):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.api + path, data=data, method=method)
        r.add_header("Authorization", f"token {self.token}")
        if data is not None:
            r.add_header("Content-Type", "application/json")
        if accept:
            r.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(r, timeout=self.timeout) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode(errors="replace")
            return e.code, payload

    def users(self, state=None):
        """All users (paginated), optionally only those with a server in `state`."""
        out, offset = [], 0
        while True:
            q = f"/users?offset={offset}&limit=200" + (f"&state={state}" if state else "")
            code, body = self.req("GET", q, accept=PAGINATION)
            if code != 200:
                raise RuntimeError(f"GET /users -> {code}: {body}")
            items = body["items"] if isinstance(body, dict) else body
            out.extend(items)
            nxt = body.get("_pagination", {}).get("next") if isinstance(body, dict) else None
            if not nxt or not items:
                return out
            offset = nxt["offset"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hub-api", required=True, help="e.g. http://127.0.0.1:18081/hub/api")
    ap.add_argument("--token", default=os.environ.get("JUPYTERHUB_API_TOKEN"))
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--prefix", default="student")
    ap.add_argument("--start-fraction", type=float, default=0.5)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--batch", type=int, default=200, help="users per POST /users")
    ap.add_argument("--timeout", type=float, default=900, help="overall seconds")
    ap.add_argument("--stop", action="store_true", help="stop the servers instead")
    ap.add_argument("--delete", action="store_true", help="stop servers and delete the users")
    a = ap.parse_args()
    if not a.token:
        ap.error("--token or $JUPYTERHUB_API_TOKEN required")

    hub = Hub(a.hub_api, a.token)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    names = [f"{a.prefix}{i:04d}" for i in range(a.users)]
    n_start = round(a.users * a.start_fraction)
    to_start = names[:n_start]
    errors = []

    def log(msg):
        print(f"[seed {time.monotonic() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    if a.stop or a.delete:
        existing = {u["name"]: u for u in hub.users()}
        mine = [n for n in names if n in existing]

        def stop(n):
            code, body = hub.req("DELETE", f"/users/{n}/server")
            if code not in (202, 204, 400, 404):
                errors.append(f"stop {n}: {code} {body}")

        with ThreadPoolExecutor(a.concurrency) as ex:
            list(ex.map(stop, [n for n in mine if existing[n].get("servers")]))
        while time.monotonic() < deadline:
            left = [u["name"] for u in hub.users() if u["name"] in set(mine) and u.get("servers")]
            if not left:
                break
            log(f"{len(left)} servers still stopping")
            time.sleep(1)
        else:
            errors.append("timeout waiting for servers to stop")
        if a.delete:
            def delete(n):
                code, body = hub.req("DELETE", f"/users/{n}")
                if code not in (204, 404):
                    errors.append(f"delete {n}: {code} {body}")
            with ThreadPoolExecutor(a.concurrency) as ex:
                list(ex.map(delete, mine))
        summary = {"stopped": len(mine), "deleted": len(mine) if a.delete else 0,
                   "seconds": round(time.monotonic() - t0, 1), "errors": errors[:10]}
        print(json.dumps(summary))
        return 1 if errors else 0

    # 1. users, in batches (409 = all of the batch existed already)
    for i in range(0, len(names), a.batch):
        code, body = hub.req("POST", "/users", {"usernames": names[i:i + a.batch]})
        if code not in (201, 409):
            print(f"POST /users -> {code}: {body}", file=sys.stderr)
            return 1
    t_users = time.monotonic() - t0
    log(f"{len(names)} users present")

    # 2. start servers with bounded concurrency
    def start(n):
        code, body = hub.req("POST", f"/users/{n}/server")
        if code in (201, 202):
            return
        if code == 400 and "already" in json.dumps(body):
            return
        errors.append(f"start {n}: {code} {body}")

    with ThreadPoolExecutor(a.concurrency) as ex:
        list(ex.map(start, to_start))
    t_requested = time.monotonic() - t0
    log(f"{len(to_start)} server starts requested ({len(errors)} errors)")

    # 3. wait until ready
    want = set(to_start)
    ready = set()
    while time.monotonic() < deadline:
        ready = {u["name"] for u in hub.users(state="ready")} & want
        if len(ready) >= len(want):
            break
        log(f"{len(ready)}/{len(want)} servers ready")
        time.sleep(1)
    else:
        errors.append(f"timeout: {len(ready)}/{len(want)} servers ready")

    summary = {
        "users": len(names),
        "servers_requested": len(to_start),
        "servers_ready": len(ready),
        "seconds_users": round(t_users, 1),
        "seconds_requests": round(t_requested, 1),
        "seconds_total": round(time.monotonic() - t0, 1),
        "errors": errors[:10],
        "n_errors": len(errors),
    }
    print(json.dumps(summary))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
