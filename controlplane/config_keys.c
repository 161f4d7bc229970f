/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration: the small value parsers and the keys of the
 * built-in sections ([global], [dataplane], [metrics], [service NAME],
 * [healthcheck NAME]). Each key checks its value and stores it in the
 * struct cfg being parsed; config.c dispatches to them through the key
 * tables at the end of each part.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_priv.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* The object of the section whose key is being set (see config.h). */
#define CFG(p)	       ((struct cfg *)(p)->obj)
#define SVC(p)	       ((struct cfg_service *)(p)->obj)
#define CHK(p)	       ((struct cfg_check *)(p)->obj)
#define FIELD(p, type) ((type *)((char *)(p)->obj + (p)->key->offset))

/* ---- small value parsers ----------------------------------------------- */

static const char *const check_type_names[] = {
	[CFG_CHECK_TCP] = "tcp",
	[CFG_CHECK_HTTP] = "http",
	[CFG_CHECK_HTTPS] = "https",
	[CFG_CHECK_UDP] = "udp",
};

const char *
cfg_check_type_name(uint8_t type)
{
	if (type >= CFG_CHECK_TCP && type <= CFG_CHECK_UDP)
		return check_type_names[type];
	return "none";
}

static int
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		 !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

bool
cfg_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LB_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.:-", *s))
			return false;
	return true;
}

/* Printable text without spaces (for a request line or Host header). */
static bool
token_valid(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

static int
copy_text(char *dst, const char *v, bool spaces_ok, char *err, size_t n)
{
	if (strlen(v) > CFG_TEXT_MAX) {
		snprintf(err, n, "longer than %d characters", CFG_TEXT_MAX);
		return -1;
	}
	for (const char *q = v; *q; q++)
		if (!isprint((unsigned char)*q) || (!spaces_ok && *q == ' ')) {
			snprintf(err, n, "contains a control character%s",
				 spaces_ok ? "" : " or space");
			return -1;
		}
	strcpy(dst, v);
	return 0;
}

/* Decode \n \r \t \\ \xHH into bytes. */
static int
unescape(const char *v, uint8_t *out, size_t *len, char *err, size_t n)
{
	size_t o = 0;

	for (const char *q = v; *q; q++) {
		int c = (unsigned char)*q;

		if (o >= CFG_TEXT_MAX) {
			snprintf(err, n, "longer than %d bytes", CFG_TEXT_MAX);
			return -1;
		}
		if (c == '\\') {
			q++;
			switch (*q) {
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case '0':
				c = 0;
				break;
			case '\\':
				c = '\\';
				break;
			case 'x':
				if (!isxdigit((unsigned char)q[1]) ||
				    !isxdigit((unsigned char)q[2])) {
					snprintf(err, n,
						 "\\x needs two hex digits");
					return -1;
				}
				sscanf(q + 1, "%2x", (unsigned int *)&c);
				q += 2;
				break;
			default:
				snprintf(err, n, "unknown escape '\\%c'",
					 *q ? *q : ' ');
				return -1;
			}
		}
		out[o++] = (uint8_t)c;
	}
	*len = o;
	return 0;
}

static int
addr_port_error(int rc, char *err, size_t n)
{
	snprintf(err, n,
		 rc == -ERANGE ? "port out of range" : "expected ADDR:PORT");
	return -1;
}

/* ---- [global], [dataplane], [metrics] ---------------------------------- */

static int
k_log_level(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int l = lb_log_level_parse(v);

	if (l < 0) {
		snprintf(err, n, "expected err|warning|notice|info|debug");
		return -1;
	}
	CFG(p)->log_level = l;
	return 0;
}

static int
k_log_target(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "stderr") == 0)
		CFG(p)->log_syslog = false;
	else if (strcmp(v, "syslog") == 0)
		CFG(p)->log_syslog = true;
	else {
		snprintf(err, n, "expected stderr|syslog");
		return -1;
	}
	return 0;
}

static int
set_path(char *dst, size_t max, const char *v, char *err, size_t n)
{
	if (strlen(v) > max) {
		snprintf(err, n, "path longer than %zu characters", max);
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

int
cfg_set_path(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return set_path(FIELD(p, char), p->key->size - 1, v, err, n);
}

int
cfg_set_duration(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (lb_parse_duration_ms(v, FIELD(p, uint32_t)) < 0) {
		snprintf(err, n, "expected a duration (10s, 500ms, 1m)");
		return -1;
	}
	return 0;
}

int
cfg_set_bool(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (parse_bool(v, FIELD(p, bool)) < 0) {
		snprintf(err, n, "expected yes|no");
		return -1;
	}
	return 0;
}

static int
k_state_file(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return set_path(CFG(p)->state_file, PATH_MAX - 16, v, err, n);
}

static int
k_listen(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = lb_addr_port_parse(v, &CFG(p)->metrics_addr,
				    &CFG(p)->metrics_port, false);

	if (rc < 0)
		return addr_port_error(rc, err, n);
	CFG(p)->metrics_enabled = true;
	return 0;
}

static int
k_metrics_path(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (v[0] != '/') {
		snprintf(err, n, "must start with '/'");
		return -1;
	}
	return copy_text(CFG(p)->metrics_path, v, false, err, n);
}

const struct cfg_key cfg_global_keys[] = {
	{ "log_level", k_log_level },
	{ "log_target", k_log_target },
	{ "ctl_socket", cfg_set_path, offsetof(struct cfg, ctl_socket),
	  sizeof(((struct cfg *)0)->ctl_socket) },
	{ "state_file", k_state_file },
	{ "reconcile_interval", cfg_set_duration,
	  offsetof(struct cfg, reconcile_ms) },
	{ "shutdown_grace", cfg_set_duration,
	  offsetof(struct cfg, shutdown_grace_ms) },
	{ NULL },
};

const struct cfg_key cfg_dataplane_keys[] = {
	{ "socket", cfg_set_path, offsetof(struct cfg, dp_socket),
	  sizeof(((struct cfg *)0)->dp_socket) },
	{ NULL },
};

const struct cfg_key cfg_metrics_keys[] = {
	{ "listen", k_listen },
	{ "path", k_metrics_path },
	{ NULL },
};

/* ---- [service NAME] ---------------------------------------------------- */

static int
k_vip(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = lb_addr_port_parse(v, &SVC(p)->vip, &SVC(p)->vport, false);

	return rc < 0 ? addr_port_error(rc, err, n) : 0;
}

static int
k_proto(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = lb_proto_parse(v);

	if (rc < 0) {
		snprintf(err, n, "expected tcp|udp");
		return -1;
	}
	SVC(p)->proto = (uint8_t)rc;
	return 0;
}

static int
k_mode(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = lb_mode_parse(v);

	if (rc < 0) {
		snprintf(err, n, "expected dr|nat|tunnel|fnat");
		return -1;
	}
	SVC(p)->mode = (uint8_t)rc;
	return 0;
}

static int
k_sched(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (!lb_sched_name_valid(v)) {
		snprintf(err, n, "expected rr|wrr|lc|wlc|sh|mh|lrt");
		return -1;
	}
	strcpy(SVC(p)->sched, v);
	return 0;
}

static int
k_persist(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	int rc = lb_parse_u32(v, 0, LB_PERSIST_MAX, &SVC(p)->persist);

	if (rc < 0) {
		snprintf(err, n,
			 rc == -ERANGE ? "out of range (0-2592000)"
				       : "expected seconds");
		return -1;
	}
	return 0;
}

static int
k_backend(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct cfg_backend b = { .weight = CFG_DEFAULT_WEIGHT,
				 .line = p->line };
	char tmp[CFG_TEXT_MAX + 1], *save = NULL, *tok;
	const struct cfg_backend *old;
	int rc;

	if (strlen(v) > CFG_TEXT_MAX) {
		snprintf(err, n, "too long");
		return -1;
	}
	strcpy(tmp, v);
	tok = strtok_r(tmp, " \t", &save);
	rc = lb_addr_port_parse(tok, &b.addr, &b.port, false);
	if (rc < 0)
		return addr_port_error(rc, err, n);
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		uint32_t *u = NULL;

		if (strncmp(tok, "weight=", 7) == 0) {
			if (lb_parse_u32(tok + 7, 0, LB_WEIGHT_MAX, &b.weight) <
			    0) {
				snprintf(err, n, "weight out of range (0-%u)",
					 LB_WEIGHT_MAX);
				return -1;
			}
			continue;
		}
		if (strncmp(tok, "u_threshold=", 12) == 0)
			u = &b.u_thresh;
		else if (strncmp(tok, "l_threshold=", 12) == 0)
			u = &b.l_thresh;
		if (u == NULL) {
			snprintf(err, n,
				 "unknown option '%s' (expected weight=N, "
				 "u_threshold=N, l_threshold=N)",
				 tok);
			return -1;
		}
		if (lb_parse_u32(tok + 12, 0, LB_LIMIT_MAX, u) < 0) {
			snprintf(err, n, "%.11s out of range (0-%u)", tok,
				 LB_LIMIT_MAX);
			return -1;
		}
	}
	if (b.l_thresh > b.u_thresh) {
		snprintf(err, n,
			 "l_threshold %u above u_threshold %u (0 = none)",
			 b.l_thresh, b.u_thresh);
		return -1;
	}
	old = cfg_backend_find(SVC(p), &b.addr, b.port);
	if (old != NULL) {
		snprintf(err, n, "duplicate backend (first on line %d)",
			 old->line);
		return -1;
	}
	if (cfg_backend_add(SVC(p), &b) < 0) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	return 0;
}

static int
k_laddr(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	struct lb_addr a;
	int rc;

	if (lb_addr_parse(v, &a) < 0) {
		snprintf(err, n, "expected an IPv4 or IPv6 address");
		return -1;
	}
	rc = cfg_laddr_add(SVC(p), &a);
	if (rc < 0) {
		snprintf(err, n,
			 rc == -EEXIST ? "duplicate laddr" : "out of memory");
		return -1;
	}
	return 0;
}

static int
k_toa(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	bool on;

	if (parse_bool(v, &on) < 0) {
		snprintf(err, n, "expected yes|no");
		return -1;
	}
	if (on)
		SVC(p)->flags |= LB_SVC_F_TOA;
	else
		SVC(p)->flags &= ~LB_SVC_F_TOA;
	return 0;
}

static int
k_proxy(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "v2") == 0)
		SVC(p)->flags |= LB_SVC_F_PROXY_V2;
	else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
		SVC(p)->flags &= ~LB_SVC_F_PROXY_V2;
	else {
		snprintf(err, n, "expected v2|off");
		return -1;
	}
	return 0;
}

static int
k_mh_size(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	uint32_t m;

	if (lb_parse_u32(v, 7, 16777216, &m) < 0 || !lb_is_prime(m)) {
		snprintf(err, n, "expected a prime number in 7-16777216");
		return -1;
	}
	SVC(p)->mh_size = m;
	return 0;
}

/* max_conns, conn_rate, syn_src_rate: 0 (none) .. LB_LIMIT_MAX */
static int
limit(const char *v, uint32_t *out, char *err, size_t n)
{
	int rc = lb_parse_u32(v, 0, LB_LIMIT_MAX, out);

	if (rc < 0) {
		snprintf(err, n,
			 rc == -ERANGE ? "out of range (0-%u)"
				       : "expected a number (0-%u, 0 = none)",
			 LB_LIMIT_MAX);
		return -1;
	}
	return 0;
}

static int
k_max_conns(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return limit(v, &SVC(p)->max_conns, err, n);
}

static int
k_conn_rate(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return limit(v, &SVC(p)->conn_rate, err, n);
}

static int
k_syn_src_rate(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return limit(v, &SVC(p)->syn_src_rate, err, n);
}

static int
k_svc_check(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (!cfg_name_valid(v)) {
		snprintf(err, n, "invalid name");
		return -1;
	}
	strcpy(SVC(p)->check, v);
	return 0;
}

static int
k_on_fail(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "quiesce") == 0)
		SVC(p)->on_fail = CFG_ON_FAIL_QUIESCE;
	else if (strcmp(v, "remove") == 0)
		SVC(p)->on_fail = CFG_ON_FAIL_REMOVE;
	else {
		snprintf(err, n, "expected quiesce|remove");
		return -1;
	}
	return 0;
}

static int
k_mh_adopt(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	bool on;

	if (parse_bool(v, &on) < 0) {
		snprintf(err, n, "expected yes|no");
		return -1;
	}
	if (on)
		SVC(p)->flags |= LB_SVC_F_MH_ADOPT;
	else
		SVC(p)->flags &= ~LB_SVC_F_MH_ADOPT;
	return 0;
}

static int
k_udp_on_down(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "reschedule") == 0)
		SVC(p)->flags &= ~LB_SVC_F_UDP_DRAIN;
	else if (strcmp(v, "drain") == 0)
		SVC(p)->flags |= LB_SVC_F_UDP_DRAIN;
	else {
		snprintf(err, n, "expected reschedule|drain");
		return -1;
	}
	return 0;
}

/* synproxy = off | on | auto (the default: no flag) */
static int
k_synproxy(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	uint32_t f = 0;

	if (strcmp(v, "on") == 0)
		f = LB_SVC_F_SYNPROXY_ON;
	else if (strcmp(v, "off") == 0)
		f = LB_SVC_F_SYNPROXY_OFF;
	else if (strcmp(v, "auto") != 0) {
		snprintf(err, n, "expected off|on|auto");
		return -1;
	}
	SVC(p)->flags = (SVC(p)->flags &
			 ~(LB_SVC_F_SYNPROXY_ON | LB_SVC_F_SYNPROXY_OFF)) |
			f;
	return 0;
}

const struct cfg_key cfg_service_keys[] = {
	{ "vip", k_vip },
	{ "proto", k_proto },
	{ "mode", k_mode },
	{ "scheduler", k_sched },
	{ "persistence", k_persist },
	{ "backend", k_backend, .flags = CFG_KEY_REPEAT },
	{ "laddr", k_laddr, .flags = CFG_KEY_REPEAT },
	{ "toa", k_toa },
	{ "proxy_protocol", k_proxy },
	{ "mh_size", k_mh_size },
	{ "mh_adopt", k_mh_adopt },
	{ "healthcheck", k_svc_check },
	{ "on_fail", k_on_fail },
	{ "udp_on_down", k_udp_on_down },
	{ "max_conns", k_max_conns },
	{ "conn_rate", k_conn_rate },
	{ "syn_src_rate", k_syn_src_rate },
	{ "synproxy", k_synproxy },
	{ NULL },
};

/* ---- [healthcheck NAME] ------------------------------------------------ */

static int
k_hc_type(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	for (uint8_t t = CFG_CHECK_TCP; t <= CFG_CHECK_UDP; t++)
		if (strcmp(v, check_type_names[t]) == 0) {
			CHK(p)->type = t;
			return 0;
		}
	snprintf(err, n, "expected tcp|http|https|udp");
	return -1;
}

static int
check_duration(const char *v, uint32_t min, uint32_t *out, char *err, size_t n)
{
	int rc = lb_parse_duration_ms(v, out);

	if (rc == -EINVAL) {
		snprintf(err, n, "expected a duration (2s, 500ms, 1m)");
		return -1;
	}
	if (rc < 0 || *out < min || *out > 3600000) {
		snprintf(err, n, "out of range (%ums-1h)", min);
		return -1;
	}
	return 0;
}

static int
k_interval(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return check_duration(v, 100, &CHK(p)->interval_ms, err, n);
}

static int
k_timeout(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return check_duration(v, 10, &CHK(p)->timeout_ms, err, n);
}

static int
check_count(const char *v, uint32_t *out, char *err, size_t n)
{
	if (lb_parse_u32(v, 1, 100, out) < 0) {
		snprintf(err, n, "expected a number in 1-100");
		return -1;
	}
	return 0;
}

static int
k_rise(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return check_count(v, &CHK(p)->rise, err, n);
}

static int
k_fall(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return check_count(v, &CHK(p)->fall, err, n);
}

static int
k_hc_port(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	uint32_t port;

	if (lb_parse_u32(v, 1, 65535, &port) < 0) {
		snprintf(err, n, "port out of range (1-65535)");
		return -1;
	}
	CHK(p)->port = (uint16_t)port;
	return 0;
}

static int
k_path(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (v[0] != '/') {
		snprintf(err, n, "must start with '/'");
		return -1;
	}
	return copy_text(CHK(p)->path, v, false, err, n);
}

static int
k_host(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	if (!token_valid(v)) {
		snprintf(err, n, "contains a space or control character");
		return -1;
	}
	return copy_text(CHK(p)->host, v, false, err, n);
}

static int
k_expect_status(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	uint32_t st;

	if (lb_parse_u32(v, 100, 599, &st) < 0) {
		snprintf(err, n, "expected an HTTP status in 100-599");
		return -1;
	}
	CHK(p)->expect_status = (uint16_t)st;
	return 0;
}

static int
k_expect_body(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return copy_text(CHK(p)->expect_body, v, true, err, n);
}

static int
k_send(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return unescape(v, CHK(p)->send, &CHK(p)->send_len, err, n);
}

static int
k_expect(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	return unescape(v, CHK(p)->expect, &CHK(p)->expect_len, err, n);
}

const struct cfg_key cfg_check_keys[] = {
	{ "type", k_hc_type },
	{ "interval", k_interval },
	{ "timeout", k_timeout },
	{ "rise", k_rise },
	{ "fall", k_fall },
	{ "port", k_hc_port },
	{ "path", k_path },
	{ "host", k_host },
	{ "expect_status", k_expect_status },
	{ "expect_body", k_expect_body },
	{ "send", k_send },
	{ "expect", k_expect },
	{ NULL },
};
