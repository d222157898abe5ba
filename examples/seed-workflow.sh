#!/usr/bin/env bash
# seed-workflow.sh — the seed's L2 gateway workflow carrying real packets.
#
# Builds a lab of network namespaces (two compute hosts with a VM each, the
# VTEP switch "gatewayhost" run by `l2gw soft-vtep` with two bare-metal
# servers on VLAN 100, an underlay bridge), starts `l2gw server`, a switch
# agent and two host agents, then runs the workflow through the CLI step by
# step and shows what each step does to the traffic. Everything is removed on
# exit, also on error or Ctrl-C.
#
# Needs root, iproute2 (ip, bridge), ping, Open vSwitch's ovsdb-server,
# ovsdb-tool and vtep-ctl (Debian: openvswitch-switch openvswitch-vtep), and
# either Go (to build l2gw from this tree) or L2GW=/path/to/l2gw.
#
#   examples/seed-workflow.sh                        # as root
#   sudo env PATH="$PATH" examples/seed-workflow.sh  # sudo resets PATH
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "seed-workflow.sh: needs root (network namespaces)" >&2
  exit 1
fi
for c in ip bridge ping ovsdb-server ovsdb-tool vtep-ctl; do
  command -v "$c" >/dev/null || { echo "seed-workflow.sh: $c not installed" >&2; exit 1; }
done
SCHEMA=/usr/share/openvswitch/vtep.ovsschema
[ -e "$SCHEMA" ] || { echo "seed-workflow.sh: $SCHEMA missing (openvswitch-vtep)" >&2; exit 1; }
GO=
if [ -z "${L2GW:-}" ]; then
  # sudo resets PATH, and Go's own installer puts it in /usr/local/go/bin.
  GO=$(command -v go || true)
  [ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
  if [ -z "$GO" ]; then
    echo "seed-workflow.sh: go not found: put it on PATH (with sudo: sudo env PATH=\"\$PATH\" $0)" >&2
    echo "  or set L2GW=/path/to/l2gw" >&2
    exit 1
  fi
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/l2gw-example-XXXXXX")
P="l2gwex$$-"                      # namespace prefix, unique to this run
PIDS=()
NSS=()

cleanup() {
  local rc=$?
  set +e
  trap '' PIPE INT TERM    # finish cleaning even if stdout is gone (| head) or on a second Ctrl-C
  echo
  echo "==> cleaning up"
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null
  done
  [ -f "$DIR/ovsdb-server.pid" ] && kill "$(cat "$DIR/ovsdb-server.pid")" 2>/dev/null
  for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$rc" != 0 ]; then
    echo "    failed (status $rc); logs:"
    for f in "$DIR"/*.log; do [ -e "$f" ] && { echo "---- $f"; tail -n 20 "$f"; }; done
  fi
  rm -rf "$DIR"
  echo "    removed namespaces ${P}*, processes and $DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 141' PIPE

step() { echo; echo "==> $*"; }
run()  { echo "\$ l2gw $*"; "$L2GW" --url "$URL" "$@"; }
ns()   { ip netns add "$P$1"; NSS+=("$P$1"); ip -n "$P$1" link set lo up; }
veth() { ip link add "$2" netns "$P$1" type veth peer name "$4" netns "$P$3"
         ip -n "$P$1" link set "$2" up; ip -n "$P$3" link set "$4" up; }
mac()  { ip -n "$P$1" -br link show eth0 | awk '{print $3}'; }
ping1() { ip netns exec "$P$1" ping -n -q -c1 -W1 "$2" >/dev/null 2>&1; }

# Wait until $1 answers $2 (up to 20 s); prints the time taken.
wait_ping() {
  local start=$SECONDS
  until ip netns exec "$P$1" ping -n -q -c1 -i0.01 -w5 "$2" >/dev/null 2>&1; do
    if (( SECONDS - start > 20 )); then echo "    $1 -> $2: no reply after 20 s"; return 1; fi
  done
}

declare -A IPOF=([vm1]=203.0.113.11 [vm2]=203.0.113.12 [bm1]=203.0.113.21 [bm2]=203.0.113.22)
ping_table() {
  printf '    %-5s %-5s %-14s %s\n' from to ip result
  local pids=() from to i=0
  for from in vm1 vm2; do for to in bm1 bm2; do
    for pair in "$from $to" "$to $from"; do
      set -- $pair
      ( if ping1 "$1" "${IPOF[$2]}"; then r=reachable; else r=unreachable; fi
        printf '    %-5s %-5s %-14s %s\n' "$1" "$2" "${IPOF[$2]}" "$r" > "$DIR/ping.$i" ) &
      pids+=($!); i=$((i+1))
    done
  done; done
  wait "${pids[@]}"
  cat "$DIR"/ping.*; rm -f "$DIR"/ping.*
}

if [ -z "${L2GW:-}" ]; then
  step "building l2gw"
  (cd "$(dirname "$0")/.." && "$GO" build -o "$DIR/l2gw" ./cmd/l2gw)
  L2GW=$DIR/l2gw
fi

step "building the lab (namespaces ${P}*)"
for n in ul compute1 compute2 sw vm1 vm2 bm1 bm2; do ns "$n"; done
ip -n "${P}ul" link add br0 type bridge; ip -n "${P}ul" link set br0 up
i=1
for n in sw compute1 compute2; do                  # underlay 192.0.2.0/24
  veth "$n" u0 ul "u$n"; ip -n "${P}ul" link set "u$n" master br0
  ip -n "$P$n" addr add "192.0.2.$i/24" dev u0; i=$((i+1))
done
veth vm1 eth0 compute1 tap1                        # VM NICs: tapN on the host
veth vm2 eth0 compute2 tap2
veth bm1 eth0 sw p1.100                            # bare metal on port1/port2, VLAN 100
veth bm2 eth0 sw p2.100                            # (this kernel has no 8021q: p1.100 is a veth)
for n in vm1 vm2 bm1 bm2; do
  ip -n "$P$n" link set eth0 mtu 1450
  ip -n "$P$n" addr add "${IPOF[$n]}/24" dev eth0
done
cat <<EOF
    underlay  192.0.2.0/24: gatewayhost 192.0.2.1, compute1 192.0.2.2, compute2 192.0.2.3
    compute1  vm1 $(mac vm1) ${IPOF[vm1]} on tap1
    compute2  vm2 $(mac vm2) ${IPOF[vm2]} on tap2
    gatewayhost port1 (p1.100) -> bm1 $(mac bm1) ${IPOF[bm1]}
                port2 (p2.100) -> bm2 $(mac bm2) ${IPOF[bm2]}
EOF

step "starting the switch: ovsdb-server (empty hardware_vtep db) + l2gw soft-vtep"
ovsdb-tool create "$DIR/vtep.db" "$SCHEMA"
ovsdb-server --remote="punix:$DIR/db.sock" --pidfile="$DIR/ovsdb-server.pid" \
  --unixctl="$DIR/ovsdb-server.ctl" --log-file="$DIR/ovsdb-server.log" --detach --no-chdir "$DIR/vtep.db" 2>/dev/null
"$L2GW" soft-vtep --ovsdb "unix:$DIR/db.sock" --name gatewayhost --tunnel-ip 192.0.2.1 \
  --port port1=p1 --port port2=p2 --netns "${P}sw" >"$DIR/soft-vtep.log" 2>&1 &
PIDS+=($!)

step "starting l2gw server, switch agent and host agents"
"$L2GW" server --bind 127.0.0.1:0 --data-dir "$DIR/server" >"$DIR/server.log" 2>&1 &
PIDS+=($!)
URL=
for _ in $(seq 200); do
  addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$DIR/server.log")
  if [ -n "$addr" ]; then URL="http://$addr"; break; fi
  sleep 0.05
done
[ -n "$URL" ] || { echo "server did not start"; exit 1; }
echo "    server at $URL"
"$L2GW" switch-agent --server "$URL" --switch "unix:$DIR/db.sock" --name gatewayhost >"$DIR/switch-agent.log" 2>&1 &
PIDS+=($!)
"$L2GW" host-agent --server "$URL" --host compute1 --vtep-ip 192.0.2.2 --netns "${P}compute1" >"$DIR/host-agent-compute1.log" 2>&1 &
PIDS+=($!)
"$L2GW" host-agent --server "$URL" --host compute2 --vtep-ip 192.0.2.3 --netns "${P}compute2" >"$DIR/host-agent-compute2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  [ "$("$L2GW" --url "$URL" host-list -f json 2>/dev/null | grep -c '"alive": true')" = 2 ] && break
  sleep 0.05
done

step "inventory: the overlay network and the VMs' ports"
run net-create net1 --vni 1000
run port-create net1 --name vm1 --mac "$(mac vm1)" --ip "${IPOF[vm1]}" --host compute1 --interface tap1
run port-create net1 --name vm2 --mac "$(mac vm2)" --ip "${IPOF[vm2]}" --host compute2 --interface tap2
run host-list

step "the logical gateway: switch gatewayhost, interfaces port1 and port2"
run l2-gateway-create gw1 --device 'name=gatewayhost,interface_names=port1;port2'
run switch-show gatewayhost

step "before the connection: VMs and bare metal cannot reach each other"
ping_table

step "connecting gw1 to net1 on VLAN 100"
for n in vm1 vm2 bm1 bm2; do ip -n "$P$n" neigh flush all; done   # forget the failed ARPs above
run l2-gateway-connection-create gw1 net1 --default-segmentation-id 100 -f json | tee "$DIR/conn.json"
CONN=$(sed -n 's/^  "id": "\([^"]*\)".*/\1/p' "$DIR/conn.json")
start=$(date +%s%N)
wait_ping vm1 "${IPOF[bm1]}"
echo "    vm1 -> bm1 answered $(( ($(date +%s%N) - start) / 1000000 )) ms after the create returned"
ping_table

step "what l2gw did"
echo "# the bare-metal MACs the switch learned, in the API:"
run local-mac-list --network net1
echo "# compute1's VXLAN FDB (bridge -n ${P}compute1 fdb show dev l2vx1000 | grep dst):"
bridge -n "${P}compute1" fdb show dev l2vx1000 | grep dst | sed 's/^/    /'
echo "# the switch's remote MACs (vtep-ctl list-remote-macs):"
vtep-ctl --db="unix:$DIR/db.sock" list-remote-macs "$(vtep-ctl --db="unix:$DIR/db.sock" list-ls | head -n1)" | sed 's/^/    /'
run l2-gateway-connection-status "$CONN"

step "deleting the connection"
run l2-gateway-connection-delete "$CONN"
for _ in $(seq 100); do ping1 vm1 "${IPOF[bm1]}" || break; sleep 0.1; done
ping_table
echo "# devices left on compute1 by l2gw (l2vx*/l2br*): $(ip -n "${P}compute1" -br link | grep -c '^l2\(vx\|br\)' || true)"
echo "# logical switches left on gatewayhost: $(vtep-ctl --db="unix:$DIR/db.sock" list-ls | wc -l)"
