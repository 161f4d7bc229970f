#!/usr/bin/env bash
# lab-backend's own decoding, fed crafted input from a second namespace,
# so that the FULL-NAT labs can trust what it reports:
#   - a SYN carrying TOA (TCP option 254: port, address), sent from a raw
#     socket, is remembered for its (address, port); the next connection
#     from that address and port reports the TOA client;
#   - a connection from another port reports none;
#   - a PROXY v2 header is decoded and preferred as real_client;
#   - a malformed PROXY v2 header closes that connection only;
#   - /bytes rejects a bad length, and GET / still works afterwards.
source "$(dirname "$0")/lib.sh"
e2e_begin

BE=10.99.1.11
TOA_IP=203.0.113.7 TOA_PORT=4242
PX_IP=198.51.100.9 PX_PORT=5555

lab_down
mkdir -p "$LAB_DIR"
rm -f "$LAB_DIR"/*.log
for ns in "$LAB_NS_CLIENT" elb-b1; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
lab_veth "$LAB_NS_CLIENT" elb-c0 elb-b1 elb-be1
ip -n "$LAB_NS_CLIENT" addr add "$LAB_CLIENT_IP/24" dev elb-c0
ip -n elb-b1 addr add "$BE/24" dev elb-be1
ip netns exec elb-b1 "$(lab_bin lab-backend)" --name b1 --toa -v \
	>"$LAB_DIR/backend-b1.log" 2>&1 9>&- &
echo $! >"$LAB_DIR/backend-b1.pid"
for ((i = 0; i < 50; i++)); do
	lab_client curl -s --max-time 1 -o /dev/null "http://$BE/" && break
	sleep 0.1
done

get() { lab_client curl -sS --fail --max-time 5 "$@"; }

# 1. TOA from a crafted SYN
sport=$((40000 + RANDOM % 20000))
lab_client python3 - "$LAB_CLIENT_IP" "$BE" "$sport" "$TOA_IP" "$TOA_PORT" <<'PY'
import socket, struct, sys
src, dst, sport, toa_ip, toa_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
opts = struct.pack("!BBH4s", 254, 8, toa_port, socket.inet_aton(toa_ip))
opts += struct.pack("!BBH", 2, 4, 1460)  # MSS
hdr_len = 20 + len(opts)
tcp = struct.pack("!HHIIBBHHH", sport, 80, 12345, 0, (hdr_len // 4) << 4, 0x02, 64240, 0, 0) + opts
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
s.sendto(tcp, (dst, 0))
PY
sleep 0.3
body=$(get --local-port "$sport" "http://$BE/")
e2e_log "TOA SYN from port $sport, then a connection from it: $body"
grep -q " toa=$TOA_IP:$TOA_PORT " <<<"$body" || e2e_fail "TOA not decoded"
grep -q " real_client=$TOA_IP:$TOA_PORT " <<<"$body" || e2e_fail "real_client is not the TOA client"

# 2. another port: no TOA
body=$(get "http://$BE/")
e2e_log "plain connection: $body"
grep -q " toa=- proxy=-\$" <<<"$body" || e2e_fail "a plain connection reports a client"
grep -q " real_client=- " <<<"$body" || e2e_fail "a plain connection reports real_client"

# 3. PROXY v2
body=$(python3 - "$PX_IP" "$PX_PORT" <<'PY' | lab_client timeout 5 socat -t 2 - "TCP:$BE:80" | tail -n 1
import socket, struct, sys
ip, port = sys.argv[1], int(sys.argv[2])
sig = b"\r\n\r\n\x00\r\nQUIT\n"
addrs = socket.inet_aton(ip) + socket.inet_aton("10.99.1.11") + struct.pack("!HH", port, 80)
sys.stdout.buffer.write(sig + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs
    + b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
PY
)
e2e_log "PROXY v2 connection: $body"
grep -q " real_client=$PX_IP:$PX_PORT .* proxy=$PX_IP:$PX_PORT\$" <<<"$body" ||
	e2e_fail "PROXY v2 not decoded"

# 4. malformed PROXY v2 (version 3): closed without an answer
out=$(printf '\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c012345678901GET / HTTP/1.1\r\n\r\n' |
	lab_client timeout 5 socat -t 2 - "TCP:$BE:80" || true)
[ -z "$out" ] || e2e_fail "a malformed PROXY v2 header got an answer: $out"

# 5. bad length, then the server still answers
code=$(lab_client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$BE/bytes?n=12x")
[ "$code" = 400 ] || e2e_fail "/bytes?n=12x answered $code, expected 400"
n=$(get "http://$BE/bytes?n=4097" | wc -c)
[ "$n" = 4097 ] || e2e_fail "/bytes?n=4097 sent $n bytes"
get "http://$BE/" >/dev/null || e2e_fail "the server stopped answering"
e2e_end
