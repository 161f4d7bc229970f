#!/usr/bin/env bash
# edgelbd's /metrics with a real dataplane behind it:
#   - the page passes promtool check metrics (Debian package prometheus);
#   - it carries edgelbd's own series (dataplane connected, services,
#     health state of each backend) and the dataplane's counters;
#   - after 40 GETs through the VIP, the service's
#     edgelb_dp_service_packets_in_total grows by at least 40 x 4 packets
#     (SYN, ACK, request, FIN per connection, client to VIP) and each
#     backend's packet counter grows; edgelb_dp_service_conns_total grows
#     by exactly 40 (the health checks do not pass the dataplane);
#   - the dataplane's ICMP counters are on the page.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin promtool

N=40

scrape() { lbd_sw curl -sS --fail --max-time 5 "http://$LBD_METRICS/metrics"; }

# sum_metric PAGE NAME [LABEL-REGEX]: the sum of NAME's samples whose
# labels match the extended regex.
sum_metric() {
	awk -v name="$2" -v re="${3:-.}" '
		$1 ~ "^" name "({|$)" && $1 ~ re { s += $NF }
		END { printf "%d\n", s }' <<<"$1"
}

lbd_up
# Health known: every backend up (rise 2 at 500 ms).
for ((i = 0; i < 100; i++)); do
	page=$(scrape)
	up=$(grep -c '^edgelbd_health_state{.*} 1$' <<<"$page" || true)
	[ "$up" = 3 ] && break
	sleep 0.1
done

# ---- format -----------------------------------------------------------------
printf '%s\n' "$page" >"$LBD_DIR/metrics.txt"
if promtool check metrics <"$LBD_DIR/metrics.txt" >"$LBD_DIR/promtool.log" 2>&1; then
	lbd_log "promtool check metrics: ok ($(grep -vc '^#' "$LBD_DIR/metrics.txt") samples," \
		"$(grep -c '^# TYPE' "$LBD_DIR/metrics.txt") families)"
else
	lbd_fail "promtool check metrics: $(head -n 5 "$LBD_DIR/promtool.log")"
fi

# ---- edgelbd's series ----------------------------------------------------------
[ "$(sum_metric "$page" edgelbd_dataplane_connected)" = 1 ] ||
	lbd_fail "edgelbd_dataplane_connected is not 1"
[ "$(sum_metric "$page" edgelbd_services)" = 1 ] ||
	lbd_fail "edgelbd_services is not 1"
lbd_log "health: $up of 3 backends in edgelbd_health_state 1 (up)"
[ "$up" = 3 ] || lbd_fail "expected 3 backends up in edgelbd_health_state"
ndp=$(grep -c '^edgelb_dp_' <<<"$page" || true)
lbd_log "dataplane samples on the page: $ndp"
((ndp > 0)) || lbd_fail "no edgelb_dp_* series on the page"
# the dataplane's ICMP counters (lcore parts and a drop reason) come
# through like every other counter
for m in edgelb_dp_lcore_icmp_frag_needed_sent_total \
	edgelb_dp_lcore_icmp_time_exceeded_sent_total \
	edgelb_dp_lcore_icmp_ratelimited_total edgelb_dp_drop_icmp_ratelimited \
	edgelb_dp_lcore_synproxy_cookies_sent_total \
	edgelb_dp_lcore_synproxy_cookies_bad_total \
	edgelb_dp_lcore_synproxy_backend_failed_total \
	edgelb_dp_drop_synproxy_bad_cookie; do
	grep -q "^$m{" <<<"$page" || lbd_fail "no $m series on the page"
done
grep -q '^edgelb_dp_service_packets_in_total{' <<<"$page" || {
	lbd_fail "no edgelb_dp_service_packets_in_total series"
	grep '^edgelb_dp_service' <<<"$page" | head -n 20 >&2
	exit 1
}

# ---- counters grow with traffic ---------------------------------------------------
svc_re="vip=\"$LBD_VIP:$LBD_PORT\""
in0=$(sum_metric "$page" edgelb_dp_service_packets_in_total "$svc_re")
c0=$(sum_metric "$page" edgelb_dp_service_conns_total "$svc_re")
declare -A be0
for b in "${LBD_BACKENDS[@]}"; do
	be0[$b]=$(sum_metric "$page" edgelb_dp_backend_packets_in_total \
		"backend=\"$(lbd_backend_ip "$b"):$LBD_PORT\"")
done
spread=$(lbd_spread "$N") || exit 1
page=$(scrape)
printf '%s\n' "$page" >"$LBD_DIR/metrics2.txt"
promtool check metrics <"$LBD_DIR/metrics2.txt" >"$LBD_DIR/promtool.log" 2>&1 ||
	lbd_fail "promtool check metrics (second scrape): $(head -n 5 "$LBD_DIR/promtool.log")"
in1=$(sum_metric "$page" edgelb_dp_service_packets_in_total "$svc_re")
lbd_log "$N GETs ($spread): edgelb_dp_service_packets_in_total{$svc_re} $in0 -> $in1 (+$((in1 - in0)), want >= $((N * 4)))"
c1=$(sum_metric "$page" edgelb_dp_service_conns_total "$svc_re")
lbd_log "edgelb_dp_service_conns_total{$svc_re} $c0 -> $c1 (+$((c1 - c0)), want $N)"
((c1 - c0 == N)) || lbd_fail "service conns_total grew by $((c1 - c0)), not $N"
((in1 - in0 >= N * 4)) || {
	grep -E '^edgelb_dp_(service|backend)_' <<<"$page" >&2 || true
	lbd_fail "service packets_in grew by $((in1 - in0)) only (the service and backend series above)"
}
for b in "${LBD_BACKENDS[@]}"; do
	v=$(sum_metric "$page" edgelb_dp_backend_packets_in_total \
		"backend=\"$(lbd_backend_ip "$b"):$LBD_PORT\"")
	lbd_log "edgelb_dp_backend_packets_in_total for $b: ${be0[$b]} -> $v"
	((v > be0[$b])) || lbd_fail "backend $b's packet counter did not grow"
done

# ---- the /metrics listener counts itself (edgelb_http_*) -------------------------
# Two scrapes so far: the second page counts at least the first request.
mreq=$(sum_metric "$page" edgelb_http_requests_total 'service="metrics"')
lbd_log "edgelb_http_requests_total{service=\"metrics\"} = $mreq (want >= 1)"
((mreq >= 1)) || lbd_fail "the /metrics listener's requests are not counted"
lbd_end
