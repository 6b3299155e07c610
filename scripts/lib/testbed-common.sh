# shellcheck shell=bash
# Library for scripts/testbed: constants, helpers and the `up`/`down`/`status` steps.
# Sourced by scripts/testbed (which sets TB_REPO); expects `set -euo pipefail`.
set -E

TB_ROOT=/opt/coursectl-testbed
TB_VENV=$TB_ROOT/venv
TB_CHP_DIR=$TB_ROOT/chp
TB_CHP=$TB_CHP_DIR/node_modules/.bin/configurable-http-proxy
TB_RUN=/run/coursectl-testbed
TB_LOG=/var/log/coursectl-testbed
TB_CACHE=/var/cache/coursectl-testbed
TB_HOMES=/srv/coursectl-testbed/homes
TB_ENV_FILE=$TB_RUN/env
TB_ASSETS=$TB_REPO/assets/testbed

TB_BRIDGE=ctlbr0
TB_HUB_IP=10.213.7.1
TB_PREFIX_LEN=24
TB_ADDR_POOL=10.214.0.0/16
TB_NODES=(node2 node3)
declare -A TB_NODE_IP=([node2]=10.213.7.2 [node3]=10.213.7.3)

TB_MAIN_SOCK=/var/run/docker.sock
TB_MAIN_PIDFILE=$TB_RUN/dockerd-main.pid
TB_MAIN_OURS=$TB_RUN/dockerd-main.ours

TB_IMAGE=coursectl-singleuser:test
TB_BUSYBOX_IMAGE=coursectl-busybox:test
TB_SUITE=bookworm
TB_HUB_PINS="jupyterhub==6.1.1 dockerspawner==14.0.0 jupyterhub-idle-culler==2.0.0 nbgrader==0.9.6"
TB_IMAGE_PINS="jupyterhub==6.1.1 jupyter_server==2.21.1"
TB_CHP_VERSION=5.3.0
TB_RECIPE_LABEL=org.coursectl.testbed.recipe
TB_PYTHON=${TB_PYTHON:-python3}

# Docker client matching the engine (Debian's 20.10 client) if present; a newer one also works.
if [[ -x /usr/bin/docker ]]; then TB_DOCKER=/usr/bin/docker; else TB_DOCKER=docker; fi

TB_CUR_STEP="(init)"
TB_TIMINGS=()
trap 'rc=$?; echo "testbed: FAILED in step \"$TB_CUR_STEP\" (exit $rc) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------- helpers
tb_log() { printf '    %s\n' "$*"; }
tb_die() { echo "testbed: step \"$TB_CUR_STEP\": $*" >&2; exit 1; }
tb_now() { date +%s.%N; }
tb_elapsed() { awk -v a="$1" -v b="$(tb_now)" 'BEGIN{printf "%.1f", b-a}'; }

tb_step() {
  local name=$1; shift
  TB_CUR_STEP=$name
  local t0; t0=$(tb_now)
  echo "==> $name"
  "$@"
  local dt; dt=$(tb_elapsed "$t0")
  TB_TIMINGS+=("$(printf '%-22s %6ss' "$name" "$dt")")
  echo "    done in ${dt}s"
}

# tb_wait DESC TIMEOUT_S CMD... : poll CMD (every 0.2s) until it succeeds.
tb_wait() {
  local desc=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "testbed: step \"$TB_CUR_STEP\": timed out after ${timeout}s waiting for $desc" >&2
      return 1
    fi
    sleep 0.2
  done
}

d() { "$TB_DOCKER" -H "unix://$TB_MAIN_SOCK" "$@"; }
dn() { local n=$1; shift; "$TB_DOCKER" -H "unix://$(tb_node_sock "$n")" "$@"; }

tb_node_ns() { echo "ctl-$1"; }
tb_node_sock() { echo "/var/run/docker-ctl-$1.sock"; }
tb_node_pidfile() { echo "$TB_RUN/dockerd-ctl-$1.pid"; }
tb_node_log() { echo "$TB_LOG/dockerd-ctl-$1.log"; }
tb_node_dataroot() { echo "/var/lib/docker-ctl-$1"; }
tb_node_execroot() { echo "/var/run/docker-ctl-$1"; }
tb_node_veth() { echo "ctl-$1"; }   # host side of the node's veth pair

tb_pid_alive() { # PIDFILE -> 0 if the pid in it is a live process
  local pid
  [[ -s $1 ]] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # a killed daemon re-parented to an init that does not reap stays a zombie: not alive
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

tb_docker_ok() { "$TB_DOCKER" -H "unix://$1" info --format '{{.ID}}' >/dev/null 2>&1; }

tb_norm_node() { # node2 | ctl-node2 -> node2
  local n=${1#ctl-}
  local x
  for x in "${TB_NODES[@]}"; do [[ $x == "$n" ]] && { echo "$n"; return 0; }; done
  echo "testbed: unknown node '$1' (known: ${TB_NODES[*]})" >&2
  return 1
}

# stop a process by pidfile: TERM, poll up to $2 s, then KILL
tb_stop_pidfile() {
  local pidfile=$1 timeout=${2:-30} pid
  tb_pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; break; fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

tb_apt_wait_idle() {
  local deadline=$((SECONDS + 1200))
  while pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null 2>&1; do
    ((SECONDS < deadline)) || tb_die "apt/dpkg still busy after 20 min"
    sleep 1
  done
}

# ---------------------------------------------------------------- step: packages
tb_packages() {
  local need=()
  [[ -x /usr/sbin/dockerd || -n $(command -v dockerd) ]] || need+=(docker.io)
  [[ -x /usr/bin/docker ]] || need+=(docker.io)
  command -v restic >/dev/null || need+=(restic)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v ip >/dev/null || need+=(iproute2)
  command -v iptables >/dev/null || need+=(iptables)
  dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
  command -v curl >/dev/null || need+=(curl)
  command -v tmux >/dev/null || need+=(tmux)
  command -v fuser >/dev/null || need+=(psmisc)
  command -v nsenter >/dev/null || need+=(util-linux)
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  "$TB_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
  if ((${#need[@]} == 0)); then tb_log "all present"; return 0; fi
  # de-duplicate
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  tb_log "installing: ${need[*]}"
  tb_apt_wait_idle
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update >"$TB_LOG/apt-update.log" 2>&1 \
    || tb_die "apt-get update failed (see $TB_LOG/apt-update.log)"
  apt-get -o DPkg::Lock::Timeout=600 install -y "${need[@]}" >"$TB_LOG/apt-install.log" 2>&1 \
    || tb_die "apt-get install ${need[*]} failed (see $TB_LOG/apt-install.log)"
}

# ---------------------------------------------------------------- step: venv
tb_venv() {
  local stamp=$TB_VENV/.coursectl-testbed-stamp want
  want="$("$TB_PYTHON" -c 'import sys; print(sys.version.split()[0])') $TB_HUB_PINS"
  if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $TB_VENV/bin/jupyterhub && -x $TB_VENV/bin/nbgrader ]] \
     && "$TB_VENV/bin/python" -c 'import jupyterhub, dockerspawner' 2>/dev/null; then
    tb_log "venv up to date ($TB_VENV)"
    return 0
  fi
  mkdir -p "$TB_ROOT"
  if ! "$TB_VENV/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$TB_VENV"
    "$TB_PYTHON" -m venv "$TB_VENV" || tb_die "python3 -m venv $TB_VENV failed"
  fi
  tb_log "pip install $TB_HUB_PINS"
  # shellcheck disable=SC2086
  "$TB_VENV/bin/pip" install -q $TB_HUB_PINS >"$TB_LOG/pip-venv.log" 2>&1 \
    || { tail -20 "$TB_LOG/pip-venv.log" >&2; tb_die "pip install into $TB_VENV failed (see $TB_LOG/pip-venv.log)"; }
  echo "$want" >"$stamp"
}

# ---------------------------------------------------------------- step: chp
tb_chp() {
  local pj=$TB_CHP_DIR/node_modules/configurable-http-proxy/package.json have=""
  [[ -f $pj ]] && have=$(node -p "require('$pj').version" 2>/dev/null || true)
  if [[ $have == "$TB_CHP_VERSION" && -x $TB_CHP ]]; then
    tb_log "configurable-http-proxy $have present"
    return 0
  fi
  mkdir -p "$TB_CHP_DIR"
  npm install --prefix "$TB_CHP_DIR" --no-audit --no-fund "configurable-http-proxy@$TB_CHP_VERSION" \
    >"$TB_LOG/npm-chp.log" 2>&1 || { tail -20 "$TB_LOG/npm-chp.log" >&2; tb_die "npm install configurable-http-proxy failed"; }
  [[ -x $TB_CHP ]] || tb_die "npm install did not produce $TB_CHP"
}

# ---------------------------------------------------------------- step: main dockerd
tb_main_dockerd() {
  if tb_docker_ok "$TB_MAIN_SOCK"; then
    if [[ -f $TB_MAIN_OURS ]] && tb_pid_alive "$TB_MAIN_PIDFILE"; then
      tb_log "main dockerd (ours, pid $(cat "$TB_MAIN_PIDFILE")) answering"
    else
      rm -f "$TB_MAIN_OURS"
      tb_log "reusing a dockerd not started by testbed"
    fi
    return 0
  fi
  if [[ -f $TB_MAIN_OURS ]] && tb_pid_alive "$TB_MAIN_PIDFILE"; then
    tb_log "our dockerd (pid $(cat "$TB_MAIN_PIDFILE")) alive but not answering yet; waiting"
  else
    rm -f "$TB_MAIN_PIDFILE"
    if pgrep -x dockerd >/dev/null && [[ ! -S $TB_MAIN_SOCK ]]; then :; fi
    tb_log "starting dockerd (log $TB_LOG/dockerd-main.log)"
    setsid dockerd --pidfile "$TB_MAIN_PIDFILE" >>"$TB_LOG/dockerd-main.log" 2>&1 </dev/null &
    echo $! >"$TB_MAIN_PIDFILE.launch"
    touch "$TB_MAIN_OURS"
  fi
  local deadline=$((SECONDS + 120))
  until tb_docker_ok "$TB_MAIN_SOCK"; do
    if ! kill -0 "$(cat "$TB_MAIN_PIDFILE.launch" 2>/dev/null || echo 0)" 2>/dev/null && ! tb_pid_alive "$TB_MAIN_PIDFILE"; then
      tail -15 "$TB_LOG/dockerd-main.log" >&2
      tb_die "main dockerd exited during startup (log $TB_LOG/dockerd-main.log)"
    fi
    ((SECONDS < deadline)) || tb_die "main dockerd not answering after 120s (log $TB_LOG/dockerd-main.log)"
    sleep 0.2
  done
  rm -f "$TB_MAIN_PIDFILE.launch"
}

# ---------------------------------------------------------------- step: network
tb_node_net() { # create/repair one node's netns + veth
  local n=$1 ns veth ip
  ns=$(tb_node_ns "$n"); veth=$(tb_node_veth "$n"); ip=${TB_NODE_IP[$n]}
  [[ -e /var/run/netns/$ns ]] || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip -n "$ns" link del eth0 >/dev/null 2>&1 || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$veth" master "$TB_BRIDGE"
  ip link set "$veth" up
  ip -n "$ns" addr replace "$ip/$TB_PREFIX_LEN" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

tb_network() {
  ip link show "$TB_BRIDGE" >/dev/null 2>&1 || ip link add "$TB_BRIDGE" type bridge
  ip addr replace "$TB_HUB_IP/$TB_PREFIX_LEN" dev "$TB_BRIDGE"
  ip link set "$TB_BRIDGE" up
  local n
  for n in "${TB_NODES[@]}"; do tb_node_net "$n"; done
  tb_log "$TB_BRIDGE $TB_HUB_IP/$TB_PREFIX_LEN; nodes: $(for n in "${TB_NODES[@]}"; do printf '%s=%s ' "$n" "${TB_NODE_IP[$n]}"; done)"
}

# Docker sets FORWARD policy DROP; with br_netfilter, bridged node<->node traffic is filtered too.
tb_firewall() {
  if iptables -nL DOCKER-USER >/dev/null 2>&1; then
    iptables -C DOCKER-USER -i "$TB_BRIDGE" -o "$TB_BRIDGE" -j ACCEPT 2>/dev/null \
      || iptables -I DOCKER-USER 1 -i "$TB_BRIDGE" -o "$TB_BRIDGE" -j ACCEPT
    tb_log "DOCKER-USER: ACCEPT $TB_BRIDGE -> $TB_BRIDGE"
  else
    tb_log "no DOCKER-USER chain (engine runs without iptables): nothing to do"
  fi
}

# ---------------------------------------------------------------- node engines
tb_start_node_engine() {
  local n=$1 sock pidfile log
  sock=$(tb_node_sock "$n"); pidfile=$(tb_node_pidfile "$n"); log=$(tb_node_log "$n")
  if tb_pid_alive "$pidfile" && tb_docker_ok "$sock"; then
    tb_log "$n engine running (pid $(cat "$pidfile"))"
    return 0
  fi
  if tb_pid_alive "$pidfile"; then
    # starting up or shutting down (e.g. a test just sent it SIGTERM): wait for either
    tb_log "$n engine (pid $(cat "$pidfile")) alive but not answering; waiting up to 30s"
    local deadline=$((SECONDS + 30))
    while tb_pid_alive "$pidfile" && ! tb_docker_ok "$sock" && ((SECONDS < deadline)); do sleep 0.2; done
    if tb_pid_alive "$pidfile"; then
      if tb_docker_ok "$sock"; then return 0; fi
      tb_log "$n engine stuck; killing it"
      tb_stop_pidfile "$pidfile" 10
    fi
  fi
  rm -f "$pidfile"
  mkdir -p "$(tb_node_dataroot "$n")" "$(tb_node_execroot "$n")"
  tb_log "starting $n engine in netns $(tb_node_ns "$n") (log $log)"
  # `ip netns exec` remounts /sys and dockerd dies ("Devices cgroup isn't mounted"): use nsenter.
  setsid nsenter --net="/var/run/netns/$(tb_node_ns "$n")" unshare --uts sh -c \
    "hostname $n; exec dockerd --data-root $(tb_node_dataroot "$n") --exec-root $(tb_node_execroot "$n") \
       -H unix://$sock --pidfile $pidfile --iptables=false --bridge=none" \
    >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile.launch"
  [[ ${TB_NO_WAIT:-0} == 1 ]] || tb_wait_node_engine "$n"
}

tb_wait_node_engine() {
  local n=$1 sock log launch
  sock=$(tb_node_sock "$n"); log=$(tb_node_log "$n")
  [[ -f $(tb_node_pidfile "$n").launch ]] || return 0
  launch=$(cat "$(tb_node_pidfile "$n").launch")
  local deadline=$((SECONDS + 90))
  until tb_docker_ok "$sock"; do
    if ! kill -0 "$launch" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$launch/stat" 2>/dev/null) == Z ]]; then
      tail -15 "$log" >&2
      tb_die "$n dockerd exited during startup (log $log)"
    fi
    ((SECONDS < deadline)) || tb_die "$n dockerd not answering after 90s (log $log)"
    sleep 0.2
  done
  rm -f "$(tb_node_pidfile "$n").launch"
}

tb_node_engines() {
  local n
  # launch all, then wait: a node engine restarting after a crash may need ~10 s per
  # leftover container (stop timeout) before it answers
  for n in "${TB_NODES[@]}"; do TB_NO_WAIT=1 tb_start_node_engine "$n"; done
  for n in "${TB_NODES[@]}"; do tb_wait_node_engine "$n"; done
}

# ---------------------------------------------------------------- swarm
tb_main_swarm_ok() {
  [[ $(d info --format '{{.Swarm.LocalNodeState}}') == active ]] &&
  [[ $(d info --format '{{.Swarm.NodeAddr}}') == "$TB_HUB_IP" ]] &&
  [[ $(d info --format '{{.Swarm.ControlAvailable}}') == true ]]
}

tb_swarm_ready_count() {
  d node ls --format '{{.Status}}' 2>/dev/null | grep -c '^Ready$' || true
}

tb_swarm_all_ready() {
  local total ready
  total=$(d node ls -q 2>/dev/null | wc -l)
  ready=$(tb_swarm_ready_count)
  [[ $total -eq $((1 + ${#TB_NODES[@]})) && $ready -eq $total ]]
}

tb_swarm() {
  local st
  st=$(d info --format '{{.Swarm.LocalNodeState}}')
  if [[ $st == pending ]]; then
    tb_wait "main swarm state to settle" 30 bash -c "[[ \$($TB_DOCKER info --format '{{.Swarm.LocalNodeState}}') != pending ]]" || true
    st=$(d info --format '{{.Swarm.LocalNodeState}}')
  fi
  if tb_main_swarm_ok; then
    tb_log "main swarm active (manager on $TB_HUB_IP)"
  else
    if [[ $st != inactive ]]; then
      tb_log "main engine in swarm state '$st' not ours; leaving"
      d swarm leave --force >/dev/null
    fi
    tb_log "swarm init --advertise-addr $TB_HUB_IP --default-addr-pool $TB_ADDR_POOL"
    d swarm init --advertise-addr "$TB_HUB_IP" --listen-addr "$TB_HUB_IP:2377" \
      --default-addr-pool "$TB_ADDR_POOL" --default-addr-pool-mask-length 24 >/dev/null \
      || tb_die "docker swarm init failed"
  fi
  # Docker's default 5 s heartbeat marks a dead node Down only after ~11 s;
  # 2 s makes "node went down" visible within the console's 10 s promise.
  d swarm update --dispatcher-heartbeat 2s >/dev/null || tb_die "docker swarm update failed"
  local main_id token n nid nst keep
  main_id=$(d info --format '{{.Swarm.NodeID}}')
  keep=("$main_id")
  token=$(d swarm join-token -q worker)
  local members; members=$(d node ls -q)
  for n in "${TB_NODES[@]}"; do
    nst=$(dn "$n" info --format '{{.Swarm.LocalNodeState}}')
    nid=$(dn "$n" info --format '{{.Swarm.NodeID}}')
    if [[ $nst != inactive && -n $nid ]] && grep -qx "$nid" <<<"$members" \
       && [[ $(d node inspect "$nid" --format '{{.Description.Hostname}}') == "$n" ]]; then
      tb_log "$n already a member ($nid)"
      keep+=("$nid")
      continue
    fi
    if [[ $nst != inactive ]]; then
      tb_log "$n in stale swarm state '$nst'; leaving"
      dn "$n" swarm leave --force >/dev/null 2>&1 || true
    fi
    # drop leftover swarm task containers from an older swarm
    local stale; stale=$(dn "$n" ps -aq --filter label=com.docker.swarm.task.id || true)
    [[ -z $stale ]] || dn "$n" rm -f $stale >/dev/null 2>&1 || true
    tb_log "joining $n (${TB_NODE_IP[$n]})"
    dn "$n" swarm join --token "$token" --advertise-addr "${TB_NODE_IP[$n]}" \
      --listen-addr "${TB_NODE_IP[$n]}:2377" "$TB_HUB_IP:2377" >/dev/null \
      || tb_die "$n failed to join the swarm"
    keep+=("$(dn "$n" info --format '{{.Swarm.NodeID}}')")
  done
  # remove nodes that are not one of ours (stale entries from earlier runs)
  local id
  for id in $(d node ls -q); do
    if ! printf '%s\n' "${keep[@]}" | grep -qx "$id"; then
      tb_log "removing stale swarm node $id ($(d node inspect "$id" --format '{{.Description.Hostname}} {{.Status.State}}'))"
      d node rm --force "$id" >/dev/null
    fi
  done
  tb_wait "3 Ready swarm nodes" 90 tb_swarm_all_ready \
    || { d node ls >&2; tb_die "swarm nodes not all Ready"; }
  # a test that failed half-way may have left a node drained
  for id in $(d node ls -q); do
    d node update --availability active "$id" >/dev/null
  done
  tb_log "$(d node ls --format '{{.Hostname}}={{.Status}}' | tr '\n' ' ')"
}

# ---------------------------------------------------------------- images
tb_image_recipe_hash() {
  { echo "v3 $TB_SUITE minbase python3 python3-venv ca-certificates $TB_IMAGE_PINS uid1000 jupyter";
    sed -n '/^tb_build_rootfs()/,/^}/p' "$TB_REPO/scripts/lib/testbed-common.sh"; } | sha256sum | cut -c1-16
}

tb_debian_mirror() {
  local m
  m=$(grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
      | grep -v security | head -1 | awk '{print ($1=="deb") ? ($2 ~ /^\[/ ? $3 : $2) : $2}') || true
  echo "${m:-http://deb.debian.org/debian}"
}

tb_build_rootfs() {
  local out=$1 dir=$TB_CACHE/rootfs-build
  tb_cleanup_chroot() {
    local p
    for p in "$dir/dev" "$dir/proc"; do mountpoint -q "$p" 2>/dev/null && umount -l "$p"; done
    return 0
  }
  tb_cleanup_chroot
  rm -rf "$dir"
  mkdir -p "$dir"
  local mirror; mirror=$(tb_debian_mirror)
  tb_log "debootstrap --variant=minbase $TB_SUITE from $mirror (log $TB_LOG/debootstrap.log)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$TB_SUITE" "$dir" "$mirror" >"$TB_LOG/debootstrap.log" 2>&1 \
    || { tail -20 "$TB_LOG/debootstrap.log" >&2; tb_die "debootstrap failed"; }
  # pip inside the chroot: this machine's CA bundle and pip settings (registries go through a
  # proxy with its own CA). The bundle is removed again after pip.
  cp /etc/ssl/certs/ca-certificates.crt "$dir/tmp/host-ca.crt"
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
  local f
  for f in "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf" /etc/xdg/pip/pip.conf /etc/pip.conf; do
    if [[ -f $f ]]; then grep -v -i -E '^\s*(find-links|cert)\s*=' "$f" >"$dir/etc/pip.conf"; break; fi
  done
  local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
              PIP_CERT=/tmp/host-ca.crt SSL_CERT_FILE=/tmp/host-ca.crt REQUESTS_CA_BUNDLE=/tmp/host-ca.crt
              PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1)
  local v
  for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT PIP_RETRIES \
           http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY; do
    [[ -n ${!v:-} ]] && envs+=("$v=${!v}")
  done
  # host pip config (if any) from `pip config list` style env is covered above; conf files copied.
  mount -t proc proc "$dir/proc"
  mount --bind /dev "$dir/dev"
  chroot "$dir" env -i "${envs[@]}" /usr/bin/python3 -m venv /opt/venv \
    || { tb_cleanup_chroot; tb_die "python3 -m venv in the image chroot failed"; }
  # shellcheck disable=SC2086
  chroot "$dir" env -i "${envs[@]}" /opt/venv/bin/pip install $TB_IMAGE_PINS >"$TB_LOG/pip-image.log" 2>&1 \
    || { tb_cleanup_chroot; tail -20 "$TB_LOG/pip-image.log" >&2; tb_die "pip install in the image chroot failed (see $TB_LOG/pip-image.log)"; }
  chroot "$dir" useradd -m -u 1000 -U -s /bin/bash jupyter
  mkdir -p "$dir/home/jupyter/work"
  chown 1000:1000 "$dir/home/jupyter/work"
  tb_cleanup_chroot
  rm -f "$dir/tmp/host-ca.crt" "$dir/etc/pip.conf"
  : >"$dir/etc/resolv.conf"
  rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"* "$dir/root/.cache"
  tar -C "$dir" --numeric-owner -cf "$out.tmp" . || tb_die "tar of rootfs failed"
  mv "$out.tmp" "$out"
  rm -rf "$dir"
}

tb_import_if_needed() { # IMAGE HASH TAR [import -c changes...]
  local image=$1 hash=$2 tar=$3; shift 3
  local have
  have=$(d image inspect --format "{{index .Config.Labels \"$TB_RECIPE_LABEL\"}}" "$image" 2>/dev/null || true)
  if [[ $have == "$hash" ]]; then
    tb_log "$image present on main ($hash)"
    return 0
  fi
  tb_log "docker import $image"
  local changes=(-c "LABEL $TB_RECIPE_LABEL=$hash") c
  for c in "$@"; do changes+=(-c "$c"); done
  d import "${changes[@]}" "$tar" "$image" >/dev/null || tb_die "docker import $image failed"
}

tb_distribute() { # IMAGE: same image id on every node
  local image=$1 id n nid
  id=$(d image inspect --format '{{.Id}}' "$image")
  for n in "${TB_NODES[@]}"; do
    nid=$(dn "$n" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    if [[ $nid == "$id" ]]; then continue; fi
    tb_log "docker save $image | docker -H $n load"
    d save "$image" | dn "$n" load >/dev/null || tb_die "loading $image into $n failed"
  done
}

tb_images() {
  mkdir -p "$TB_CACHE"
  local hash tar
  hash=$(tb_image_recipe_hash)
  tar=$TB_CACHE/singleuser-rootfs-$hash.tar
  if [[ -f $tar ]]; then
    tb_log "rootfs cache hit: $tar"
  else
    local have
    have=$(d image inspect --format "{{index .Config.Labels \"$TB_RECIPE_LABEL\"}}" "$TB_IMAGE" 2>/dev/null || true)
    if [[ $have == "$hash" ]]; then
      tb_log "no rootfs cache but $TB_IMAGE on main is current"
    else
      tb_build_rootfs "$tar"
    fi
  fi
  if [[ -f $tar ]]; then
    tb_import_if_needed "$TB_IMAGE" "$hash" "$tar" \
      "USER jupyter" "WORKDIR /home/jupyter" \
      "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      "ENV LANG=C.UTF-8" 'CMD ["/opt/venv/bin/jupyterhub-singleuser"]'
  fi
  tb_distribute "$TB_IMAGE"

  # tiny busybox image for cheap services
  local bb=/bin/busybox bver bhash btar bdir
  [[ -x $bb ]] || tb_die "$bb missing (busybox-static)"
  bver=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null || echo unknown)
  bhash=$(echo "busybox v1 $bver" | sha256sum | cut -c1-16)
  btar=$TB_CACHE/busybox-rootfs-$bhash.tar
  if [[ ! -f $btar ]]; then
    bdir=$TB_CACHE/busybox-build
    rm -rf "$bdir"; mkdir -p "$bdir/bin" "$bdir/tmp" "$bdir/etc" "$bdir/proc" "$bdir/sys" "$bdir/dev"
    chmod 1777 "$bdir/tmp"
    cp "$bb" "$bdir/bin/busybox"
    local a
    for a in $("$bb" --list); do [[ $a == busybox ]] || ln -sf busybox "$bdir/bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$bdir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$bdir/etc/group"
    tar -C "$bdir" --numeric-owner -cf "$btar.tmp" . && mv "$btar.tmp" "$btar"
    rm -rf "$bdir"
  fi
  tb_import_if_needed "$TB_BUSYBOX_IMAGE" "$bhash" "$btar" "ENV PATH=/bin" 'CMD ["sh"]'
  tb_distribute "$TB_BUSYBOX_IMAGE"
  # drop rootfs tarballs of older recipes
  find "$TB_CACHE" -maxdepth 1 -name 'singleuser-rootfs-*.tar' ! -name "singleuser-rootfs-$hash.tar" -delete
  tb_log "$TB_IMAGE $(d image inspect --format '{{.Id}}' "$TB_IMAGE" | cut -c1-19) on main+${TB_NODES[*]}"
}

# ---------------------------------------------------------------- homes + env
tb_homes() {
  mkdir -p "$TB_HOMES"
  chmod 755 /srv/coursectl-testbed "$TB_HOMES"
}

tb_write_env() {
  local hostnames main_host
  main_host=$(d info --format '{{.Name}}')
  hostnames="$main_host ${TB_NODES[*]}"
  local tmp=$TB_ENV_FILE.tmp
  {
    echo "TESTBED_VENV=$TB_VENV"
    echo "TESTBED_JUPYTERHUB=$TB_VENV/bin/jupyterhub"
    echo "TESTBED_CHP=$TB_CHP"
    echo "TESTBED_NBGRADER=$TB_VENV/bin/nbgrader"
    echo "TESTBED_RESTIC=$(command -v restic)"
    echo "TESTBED_DOCKER=$TB_DOCKER"
    echo "TESTBED_DOCKER_HOST=unix://$TB_MAIN_SOCK"
    echo "TESTBED_MAIN_DOCKERD_PIDFILE=$TB_MAIN_PIDFILE"
    echo "TESTBED_MAIN_DOCKERD_OURS=$([[ -f $TB_MAIN_OURS ]] && echo 1 || echo 0)"
    echo "TESTBED_MAIN_HOSTNAME=$main_host"
    local n N
    for n in "${TB_NODES[@]}"; do
      N=${n^^}
      echo "TESTBED_${N}_SOCK=$(tb_node_sock "$n")"
      echo "TESTBED_${N}_DOCKER_HOST=unix://$(tb_node_sock "$n")"
      echo "TESTBED_${N}_PIDFILE=$(tb_node_pidfile "$n")"
      echo "TESTBED_${N}_NETNS=$(tb_node_ns "$n")"
      echo "TESTBED_${N}_IP=${TB_NODE_IP[$n]}"
    done
    echo "TESTBED_NODE_HOSTNAMES=\"$hostnames\""
    echo "TESTBED_HUB_IP=$TB_HUB_IP"
    echo "TESTBED_BRIDGE=$TB_BRIDGE"
    echo "TESTBED_IMAGE=$TB_IMAGE"
    echo "TESTBED_BUSYBOX_IMAGE=$TB_BUSYBOX_IMAGE"
    echo "TESTBED_HOMES=$TB_HOMES"
    echo "TESTBED_SWARM_CONFIG=$TB_ASSETS/swarm_config.py"
    echo "TESTBED_SCALE_CONFIG=$TB_ASSETS/scale_config.py"
    echo "TESTBED_SEED_SCALE=$TB_ASSETS/seed_scale.py"
    echo "TESTBED_HUB_PASSWORD=testpass"
    echo "TESTBED_LOG_DIR=$TB_LOG"
  } >"$tmp"
  mv "$tmp" "$TB_ENV_FILE"
  tb_log "wrote $TB_ENV_FILE"
}

tb_print_env() {
  [[ -f $TB_ENV_FILE ]] || { echo "testbed: $TB_ENV_FILE missing (run scripts/testbed up)" >&2; exit 1; }
  cat "$TB_ENV_FILE"
}

# ---------------------------------------------------------------- up / down / status / restart-node
tb_up() {
  [[ $(id -u) -eq 0 ]] || { echo "testbed: must run as root" >&2; exit 1; }
  mkdir -p "$TB_RUN" "$TB_LOG" "$TB_CACHE"
  local t0; t0=$(tb_now)
  tb_step packages     tb_packages
  tb_step venv         tb_venv
  tb_step chp          tb_chp
  # the bridge first: a main engine in swarm mode binds 10.213.7.1:2377 when it starts
  tb_step network      tb_network
  tb_step main-dockerd tb_main_dockerd
  tb_step firewall     tb_firewall
  tb_step node-engines tb_node_engines
  tb_step swarm        tb_swarm
  tb_step images       tb_images
  tb_step homes        tb_homes
  tb_step env          tb_write_env
  TB_CUR_STEP=summary
  echo "==> timings"
  printf '    %s\n' "${TB_TIMINGS[@]}"
  printf '    %-22s %6ss\n' total "$(tb_elapsed "$t0")"
}

tb_remove_jupyter_services() {
  tb_docker_ok "$TB_MAIN_SOCK" || return 0
  [[ $(d info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null) == true ]] || return 0
  local ids
  ids=$( { d service ls -q --filter name=jupyter-; d service ls -q --filter label=org.jupyterhub.user; } | sort -u)
  if [[ -n $ids ]]; then
    tb_log "removing $(wc -w <<<"$ids") jupyter services"
    # shellcheck disable=SC2086
    d service rm $ids >/dev/null || true
  fi
}

tb_down() {
  mkdir -p "$TB_RUN"
  TB_CUR_STEP=down
  tb_remove_jupyter_services
  local n
  for n in "${TB_NODES[@]}"; do
    if tb_pid_alive "$(tb_node_pidfile "$n")"; then
      tb_log "stopping $n engine (pid $(cat "$(tb_node_pidfile "$n")"))"
    fi
    tb_stop_pidfile "$(tb_node_pidfile "$n")" 30
  done
  if [[ -f $TB_MAIN_OURS ]]; then
    if tb_pid_alive "$TB_MAIN_PIDFILE"; then tb_log "stopping main dockerd (pid $(cat "$TB_MAIN_PIDFILE"))"; fi
    tb_stop_pidfile "$TB_MAIN_PIDFILE" 60
    rm -f "$TB_MAIN_OURS"
  else
    tb_log "main dockerd not started by testbed: left running"
  fi
  for n in "${TB_NODES[@]}"; do
    ip link del "$(tb_node_veth "$n")" >/dev/null 2>&1 || true
    [[ -e /var/run/netns/$(tb_node_ns "$n") ]] && ip netns del "$(tb_node_ns "$n")"
  done
  ip link del "$TB_BRIDGE" >/dev/null 2>&1 || true
  if iptables -nL DOCKER-USER >/dev/null 2>&1; then
    while iptables -D DOCKER-USER -i "$TB_BRIDGE" -o "$TB_BRIDGE" -j ACCEPT 2>/dev/null; do :; done
  fi
  rm -f "$TB_ENV_FILE"
  tb_log "down (caches kept: $TB_VENV $TB_CHP_DIR $TB_CACHE)"
}

tb_status() {
  local bad=0 n
  line() { printf '%-14s %-5s %s\n' "$1" "$2" "$3"; [[ $2 == ok ]] || bad=1; }
  if [[ -x $TB_VENV/bin/jupyterhub ]]; then line venv ok "$TB_VENV"; else line venv DOWN "$TB_VENV missing"; fi
  if [[ -x $TB_CHP ]]; then line chp ok "$TB_CHP"; else line chp DOWN "$TB_CHP missing"; fi
  if tb_docker_ok "$TB_MAIN_SOCK"; then
    line main-dockerd ok "$TB_MAIN_SOCK $( [[ -f $TB_MAIN_OURS ]] && echo "pid $(cat "$TB_MAIN_PIDFILE" 2>/dev/null)" || echo '(not ours)')"
  else line main-dockerd DOWN "$TB_MAIN_SOCK not answering"; fi
  if ip -br addr show "$TB_BRIDGE" 2>/dev/null | grep -q "$TB_HUB_IP/"; then line bridge ok "$TB_BRIDGE $TB_HUB_IP"; else line bridge DOWN "$TB_BRIDGE missing"; fi
  for n in "${TB_NODES[@]}"; do
    if tb_pid_alive "$(tb_node_pidfile "$n")" && tb_docker_ok "$(tb_node_sock "$n")"; then
      line "$n" ok "pid $(cat "$(tb_node_pidfile "$n")") $(tb_node_sock "$n")"
    else line "$n" DOWN "engine not running/answering ($(tb_node_sock "$n"))"; fi
  done
  if tb_docker_ok "$TB_MAIN_SOCK" && tb_swarm_all_ready 2>/dev/null; then
    line swarm ok "$(d node ls --format '{{.Hostname}}={{.Status}}' | tr '\n' ' ')"
  else
    line swarm DOWN "$(d node ls --format '{{.Hostname}}={{.Status}}' 2>/dev/null | tr '\n' ' ')"
  fi
  if tb_docker_ok "$TB_MAIN_SOCK" && d image inspect "$TB_IMAGE" >/dev/null 2>&1; then
    local id miss=""; id=$(d image inspect --format '{{.Id}}' "$TB_IMAGE")
    for n in "${TB_NODES[@]}"; do
      [[ $(dn "$n" image inspect --format '{{.Id}}' "$TB_IMAGE" 2>/dev/null) == "$id" ]] || miss+=" $n"
    done
    if [[ -z $miss ]]; then line image ok "$TB_IMAGE ${id:7:12} everywhere"; else line image DOWN "missing on$miss"; fi
  else line image DOWN "$TB_IMAGE missing on main"; fi
  if [[ -f $TB_ENV_FILE ]]; then line env ok "$TB_ENV_FILE"; else line env DOWN "$TB_ENV_FILE missing"; fi
  return $bad
}

tb_restart_node() {
  [[ $# -eq 1 ]] || { echo "usage: scripts/testbed restart-node NAME" >&2; exit 2; }
  local n; n=$(tb_norm_node "$1")
  mkdir -p "$TB_RUN" "$TB_LOG"
  TB_CUR_STEP="restart-node $n"
  ip link show "$TB_BRIDGE" >/dev/null 2>&1 || tb_die "bridge $TB_BRIDGE missing: run scripts/testbed up"
  tb_node_net "$n"
  tb_start_node_engine "$n"
  tb_wait "$n Ready in the swarm" 90 bash -c \
    "[[ \$($TB_DOCKER -H unix://$TB_MAIN_SOCK node inspect $n --format '{{.Status.State}}') == ready ]]" \
    || tb_die "$n did not become Ready in the swarm"
  tb_log "$n engine up and Ready"
}
