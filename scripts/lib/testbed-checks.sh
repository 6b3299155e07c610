# shellcheck shell=bash
# `scripts/testbed selfcheck` and `scalecheck`: start a real hub (+ CHP) on the testbed configs,
# wrapped the way coursectl's generated config wraps them, seed users/servers, verify, stop.

tb_rand_hex() { "$TB_PYTHON" -c 'import secrets; print(secrets.token_hex(32))'; }

tb_free_port() { # ADDR -> a currently free TCP port on ADDR
  "$TB_PYTHON" -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1],0)); print(s.getsockname()[1])' "$1"
}

tb_load_env() {
  [[ -f $TB_ENV_FILE ]] || { echo "testbed: $TB_ENV_FILE missing: run scripts/testbed up first" >&2; exit 1; }
  set -a; source "$TB_ENV_FILE"; set +a
}

# tb_write_wrapper FILE SUBCONFIG BIND_URL PROXY_API_URL SERVICE_TOKEN
# What coursectl's generated config does around a testbed config.
tb_write_wrapper() {
  cat >"$1" <<EOF
import os
c = get_config()
load_subconfig("$2")
# --- what coursectl's generated config sets on top (proxy runs outside the hub)
c.JupyterHub.bind_url = "$3"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "$4"
c.ConfigurableHTTPProxy.auth_token = os.environ["CONFIGPROXY_AUTH_TOKEN"]
c.JupyterHub.cleanup_servers = False
c.JupyterHub.services = [{"name": "testbed-check", "api_token": "$5"}]
c.JupyterHub.load_roles = [{
    "name": "testbed-check",
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"],
    "services": ["testbed-check"],
}]
EOF
}

TB_CHECK_PIDS=()
tb_check_cleanup() {
  local pidfile
  for pidfile in "${TB_CHECK_PIDS[@]}"; do tb_stop_pidfile "$pidfile" 20; done
  TB_CHECK_PIDS=()
  if [[ -n ${TB_CHECK_SVC_FILTER:-} ]]; then  # services a failed check left behind
    local ids; ids=$(d service ls -q --filter "name=$TB_CHECK_SVC_FILTER" 2>/dev/null || true)
    [[ -z $ids ]] || d service rm $ids >/dev/null 2>&1 || true
  fi
}

# tb_start_chp DIR PORT API_PORT DEFAULT_TARGET
tb_start_chp() {
  local dir=$1 port=$2 aport=$3 target=$4
  (exec env CONFIGPROXY_AUTH_TOKEN="$TB_PROXY_TOKEN" "$TB_CHP" --ip 127.0.0.1 --port "$port" \
    --api-ip 127.0.0.1 --api-port "$aport" --default-target "$target" --log-level warn) \
    >"$dir/chp.log" 2>&1 </dev/null &
  echo $! >"$dir/chp.pid"
  TB_CHECK_PIDS+=("$dir/chp.pid")
  tb_wait "CHP API on 127.0.0.1:$aport" 30 \
    curl -sf -H "Authorization: token $TB_PROXY_TOKEN" "http://127.0.0.1:$aport/api/routes" \
    || { cat "$dir/chp.log" >&2; tb_die "CHP did not start"; }
}

# tb_start_hub DIR CHECK_URL
tb_start_hub() {
  local dir=$1 url=$2
  (cd "$dir" && exec env CONFIGPROXY_AUTH_TOKEN="$TB_PROXY_TOKEN" PATH="$TB_VENV/bin:$PATH" \
     "$TB_VENV/bin/jupyterhub" -f "$dir/jupyterhub_config.py") >"$dir/hub.log" 2>&1 </dev/null &
  echo $! >"$dir/hub.pid"
  TB_CHECK_PIDS+=("$dir/hub.pid")
  tb_wait "hub API at $url" 90 curl -sf "$url" \
    || { tail -30 "$dir/hub.log" >&2; tb_die "hub did not come up (log $dir/hub.log)"; }
}

tb_engine_for_hostname() { # hostname -> docker socket
  local h=$1 n
  for n in "${TB_NODES[@]}"; do [[ $h == "$n" ]] && { tb_node_sock "$n"; return; }; done
  echo "$TB_MAIN_SOCK"
}

tb_selfcheck() {
  local n=${1:-4}
  tb_load_env
  TB_CUR_STEP=selfcheck
  TB_CHECK_SVC_FILTER=jupyter-sc
  local dir=$TB_RUN/selfcheck t0; t0=$(tb_now)
  rm -rf "$dir"; mkdir -p "$dir"
  TB_PROXY_TOKEN=$(tb_rand_hex)
  local token; token=$(tb_rand_hex)
  trap 'tb_check_cleanup' EXIT
  local pp ap hp
  pp=$(tb_free_port 127.0.0.1); ap=$(tb_free_port 127.0.0.1); hp=$(tb_free_port "$TB_HUB_IP")
  export TESTBED_HUB_PORT=$hp
  tb_write_wrapper "$dir/jupyterhub_config.py" "$TESTBED_SWARM_CONFIG" "http://127.0.0.1:$pp" \
    "http://127.0.0.1:$ap" "$token"
  tb_start_chp "$dir" "$pp" "$ap" "http://$TB_HUB_IP:$hp"
  tb_start_hub "$dir" "http://127.0.0.1:$pp/hub/api/"
  echo "==> hub + CHP up ($(tb_elapsed "$t0")s); starting $n servers"
  local t1; t1=$(tb_now)
  "$TB_VENV/bin/python" "$TESTBED_SEED_SCALE" --hub-api "http://127.0.0.1:$pp/hub/api" --token "$token" \
    --users "$n" --prefix sc --start-fraction 1 --concurrency "$n" --timeout 300 \
    || { tail -40 "$dir/hub.log" >&2; tb_die "servers did not all become ready"; }
  echo "    $n servers ready in $(tb_elapsed "$t1")s"
  # the hub restarts without touching servers (cleanup_servers = False): they must stay reachable
  local tr; tr=$(tb_now)
  tb_stop_pidfile "$dir/hub.pid" 30
  mv "$dir/hub.log" "$dir/hub.1.log"
  tb_start_hub "$dir" "http://127.0.0.1:$pp/hub/api/"
  echo "    hub restarted in $(tb_elapsed "$tr")s"
  local i u nodes="" fail=0 svc code tid cid nodeid host sock lab
  for ((i = 0; i < n; i++)); do
    u=$(printf 'sc%04d' "$i"); svc=jupyter-$u
    host=$(d service ps "$svc" --filter desired-state=running --format '{{.Node}}' | head -1)
    nodes+="$host"$'\n'
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $token" "http://127.0.0.1:$pp/user/$u/api")
    lab=$(d service inspect "$svc" --format '{{index .Spec.Labels "org.jupyterhub.user"}}')
    tid=$(d service ps -q --filter desired-state=running "$svc" | head -1)
    cid=$(d inspect --type task "$tid" --format '{{.Status.ContainerStatus.ContainerID}}')
    sock=$(tb_engine_for_hostname "$host")
    local clab; clab=$("$TB_DOCKER" -H "unix://$sock" inspect "$cid" --format '{{index .Config.Labels "org.jupyterhub.user"}}' 2>/dev/null || echo '?')
    local huid; huid=$(stat -c %u "$TB_HOMES/$u" 2>/dev/null || echo '?')
    printf '    %-8s node=%-6s proxy=/user/%s/api->%s service-label=%s container-label=%s home-uid=%s\n' \
      "$u" "$host" "$u" "$code" "$lab" "$clab" "$huid"
    [[ $code == 200 && $lab == "$u" && $clab == "$u" && $huid == 1000 ]] || fail=1
  done
  local distinct; distinct=$(sort -u <<<"$nodes" | grep -c . || true)
  echo "    servers on $distinct distinct nodes"
  ((distinct >= 2 || n < 2)) || fail=1
  local t2; t2=$(tb_now)
  "$TB_VENV/bin/python" "$TESTBED_SEED_SCALE" --hub-api "http://127.0.0.1:$pp/hub/api" --token "$token" \
    --users "$n" --prefix sc --stop --timeout 120 >/dev/null || fail=1
  tb_wait "jupyter-sc* services removed" 60 bash -c "[[ -z \$($TB_DOCKER service ls -q --filter name=jupyter-sc) ]]" || fail=1
  echo "    stopped in $(tb_elapsed "$t2")s; services left: $(d service ls -q --filter name=jupyter-sc | wc -l)"
  tb_check_cleanup; trap - EXIT
  echo "==> selfcheck $([[ $fail == 0 ]] && echo PASSED || echo FAILED) in $(tb_elapsed "$t0")s (logs in $dir)"
  return $fail
}

tb_scalecheck() {
  local n=${1:-200} frac=${2:-1}
  tb_load_env
  TB_CUR_STEP=scalecheck
  local dir=$TB_RUN/scalecheck t0; t0=$(tb_now)
  rm -rf "$dir"; mkdir -p "$dir"
  TB_PROXY_TOKEN=$(tb_rand_hex)
  local token; token=$(tb_rand_hex)
  trap 'tb_check_cleanup' EXIT
  local pp ap hp
  pp=$(tb_free_port 127.0.0.1); ap=$(tb_free_port 127.0.0.1); hp=$(tb_free_port 127.0.0.1)
  export TESTBED_SCALE_HUB_PORT=$hp TESTBED_SCALE_FAKE_PORT=$(tb_free_port 127.0.0.1)
  tb_write_wrapper "$dir/jupyterhub_config.py" "$TESTBED_SCALE_CONFIG" "http://127.0.0.1:$pp" \
    "http://127.0.0.1:$ap" "$token"
  tb_start_chp "$dir" "$pp" "$ap" "http://127.0.0.1:$hp"
  tb_start_hub "$dir" "http://127.0.0.1:$pp/hub/api/"
  echo "==> hub + CHP up ($(tb_elapsed "$t0")s); seeding $n users, fraction $frac with servers"
  local t1; t1=$(tb_now) fail=0
  "$TB_VENV/bin/python" "$TESTBED_SEED_SCALE" --hub-api "http://127.0.0.1:$hp/hub/api" --token "$token" \
    --users "$n" --start-fraction "$frac" --concurrency 16 --timeout 900 || fail=1
  echo "    seeded in $(tb_elapsed "$t1")s"
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: token $token" "http://127.0.0.1:$pp/user/student0000/api")
  echo "    proxy /user/student0000/api -> $code"
  [[ $code == 200 ]] || fail=1
  local routes; routes=$(curl -sf -H "Authorization: token $TB_PROXY_TOKEN" "http://127.0.0.1:$ap/api/routes" \
    | "$TB_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')
  echo "    CHP routes: $routes"
  tb_check_cleanup; trap - EXIT
  echo "==> scalecheck $([[ $fail == 0 ]] && echo PASSED || echo FAILED) in $(tb_elapsed "$t0")s (logs in $dir)"
  return $fail
}
