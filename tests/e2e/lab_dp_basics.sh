#!/usr/bin/env bash
# edgelb-dp in the lab with its core alone (no forwarding needed): on
# af_packet (or $E2E_PORT_TYPE) in the LB namespace, with a NAT service programmed over
# dp.sock,
#   - the router resolves the VIP by ARP to the ext port's MAC, and an
#     address nobody owns stays unresolved;
#   - a new VIP is announced by gratuitous ARP;
#   - the client pings the VIP and both port addresses through the router
#     (ICMP echo answered by the dataplane);
#   - STATS_GET counters moved by at least what was sent.
source "$(dirname "$0")/lib.sh"
e2e_begin arping ping

E2E_PORT_TYPE=${E2E_PORT_TYPE:-af_packet}
e2e_log "ports: $E2E_PORT_TYPE"
lab_up nat --port-type "$E2E_PORT_TYPE"
mac=$(e2e_port_mac ext)
[ -n "$mac" ] || e2e_fail "no MAC for port ext in PORT_GET"
rx0=$(e2e_stat port rx_packets_total ext)
tx0=$(e2e_stat port tx_packets_total ext)

# ARP for the VIP, from the router's side of the ext link
lab_router ip neigh flush dev elb-r1
out=$(lab_router arping -c 3 -w 5 -I elb-r1 "$LAB_VIP")
e2e_log "arping $LAB_VIP: $(grep -c 'reply from' <<<"$out") replies"
grep -qi "reply from $LAB_VIP \[$mac\]" <<<"$out" ||
	e2e_fail "no ARP reply for $LAB_VIP with the ext port's MAC $mac: $out"

# an address nobody owns: no answer
if lab_router arping -c 2 -w 2 -I elb-r1 10.99.2.99 >/dev/null; then
	e2e_fail "10.99.2.99 (not the dataplane's) was answered"
fi

# ping VIP and port addresses from the client, through the router
lab_client ping -c 5 -i 0.2 -W 2 "$LAB_VIP" >/dev/null ||
	e2e_fail "ping $LAB_VIP from the client failed"
lab_client ping -c 3 -i 0.2 -W 2 "$LAB_LB_EXT_IP" >/dev/null ||
	e2e_fail "ping the ext port address $LAB_LB_EXT_IP failed"
lab_client ping -c 3 -i 0.2 -W 2 "$LAB_LB_INT_IP" >/dev/null ||
	e2e_fail "ping the int port address $LAB_LB_INT_IP failed"
neigh=$(lab_router ip neigh show "$LAB_VIP" dev elb-r1)
e2e_log "router's neighbour entry: $neigh"
grep -qi "lladdr $mac" <<<"$neigh" ||
	e2e_fail "the router's neighbour entry for the VIP is not $mac"

# a new VIP is announced: the router learns it unasked
vip2=198.18.0.11
lab_router sysctl -q -w net.ipv4.conf.elb-r1.arp_accept=1
lab_lbctl service add tcp "$vip2:80" mode nat sched rr
for ((i = 0; i < 20; i++)); do
	lab_router ip neigh show "$vip2" dev elb-r1 | grep -qi "lladdr $mac" && break
	sleep 0.1
done
neigh=$(lab_router ip neigh show "$vip2" dev elb-r1)
e2e_log "after adding VIP $vip2 (gratuitous ARP): ${neigh:-no entry}"
grep -qi "lladdr $mac" <<<"$neigh" || e2e_fail "no gratuitous ARP for $vip2"

# counters: at least 3 ARP requests + 5 + 3 pings in, their answers out
rx1=$(e2e_stat port rx_packets_total ext)
tx1=$(e2e_stat port tx_packets_total ext)
lrx=$(e2e_stat lcore rx_packets_total)
e2e_log "port ext: rx $rx0 -> $rx1, tx $tx0 -> $tx1; lcores rx $lrx"
((rx1 - rx0 >= 11)) || e2e_fail "port ext received $((rx1 - rx0)) packets, expected >= 11"
((tx1 - tx0 >= 11)) || e2e_fail "port ext sent $((tx1 - tx0)) packets, expected >= 11"
((lrx >= rx1)) || e2e_fail "lcore rx $lrx below port rx $rx1"
e2e_end
