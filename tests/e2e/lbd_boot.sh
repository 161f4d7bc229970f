#!/usr/bin/env bash
# edgelbd boots from an INI file with a NAT service of three backends and
# an HTTP health check, and programs edgelb-dp (started from the same
# file):
#   - lbctl -L -n (ipvsadm layout, through ctl.sock) shows the service and
#     its three real servers, Masq;
#   - GETs from the client through the VIP all succeed, spread over b1..b3;
#   - lbctl service add + backend add (ip style) make a second service on
#     port 8080 whose backends (second lab-backend instances) answer it;
#   - lbctl module show lists every module of the build as running.
# shellcheck source=lbd_lib.sh
source "$(dirname "$0")/lbd_lib.sh"
lbd_begin

lbd_up

# 1. The ipvsadm view of the configured service.
out=$(lbd_lbctl -L -n)
printf '%s\n' "$out"
grep -q "^TCP  $LBD_VIP:$LBD_PORT rr" <<<"$out" ||
	lbd_fail "lbctl -L -n: no line 'TCP  $LBD_VIP:$LBD_PORT rr'"
for b in "${LBD_BACKENDS[@]}"; do
	grep -Eq "^  -> $(lbd_backend_ip "$b"):$LBD_PORT +Masq +1 " <<<"$out" ||
		lbd_fail "lbctl -L -n: no Masq real server $(lbd_backend_ip "$b"):$LBD_PORT weight 1"
done

# 2. Traffic through the VIP: 30 GETs, rr over three healthy backends.
spread=$(lbd_spread 30) || exit 1
lbd_log "service web: 30/30 GETs answered: $spread"
for b in "${LBD_BACKENDS[@]}"; do
	grep -q "$b=10 " <<<"$spread" ||
		lbd_fail "rr over 3 backends: expected $b=10 in '$spread'"
done

# 3. A second service made with lbctl, ip style.
for b in b1 b2; do lbd_backend_start "$b" 8080; done
lbd_lbctl service add tcp "$LBD_VIP:8080" mode nat sched rr name web2
for b in b1 b2; do
	lbd_lbctl backend add tcp "$LBD_VIP:8080" "$(lbd_backend_ip "$b"):8080" weight 1
done
lbd_wait_dp_services 2 5
dpb=$(lbd_dp_backends 8080 | sort | tr '\n' ' ')
lbd_log "dataplane backends of :8080: $dpb"
spread=$(lbd_spread 20 8080) || exit 1
lbd_log "service web2 (lbctl): 20/20 GETs answered: $spread"
[ "$spread" = "b1-8080=10 b2-8080=10 " ] ||
	lbd_fail "service web2: expected 'b1-8080=10 b2-8080=10', got '$spread'"
out=$(lbd_lbctl -L -n)
grep -q "^TCP  $LBD_VIP:8080 rr" <<<"$out" ||
	lbd_fail "lbctl -L -n does not list the added service"
# The first service is untouched.
spread=$(lbd_spread 6) || exit 1
lbd_log "service web after the change: $spread"

# 4. The daemon's modules: every one of this build runs.
out=$(lbd_lbctl module show) || lbd_fail "lbctl module show failed"
lbd_log "lbctl module show: $(tail -n +2 <<<"$out" | tr -s ' \n' ' ')"
for m in httpdns gateway route upstream filter push push_vendor partition bgp; do
	grep -Eq "^$m +running\$" <<<"$out" ||
		lbd_fail "lbctl module show: $m is not running"
done
lbd_end
