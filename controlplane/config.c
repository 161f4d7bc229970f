/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration: INI parsing with inih, per-key checks, then a
 * whole-file validation (see config.h for the contract).
 *
 * inih (Debian's build) does not pass line numbers to the handler, so the
 * file is fed to ini_parse_stream() through our own line reader, which
 * counts lines, notices section headers (inih does not report empty
 * sections) and flags syntax errors itself; the handler is always called
 * while the reader's line is current.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <ini.h>

#include "config.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"

enum sect_kind {
	S_NONE,
	S_BAD, /* reported already: ignore its keys */
	S_GLOBAL,
	S_DATAPLANE,
	S_METRICS,
	S_SERVICE,
	S_CHECK,
	S_PORT,
	S_MODULE,
};

#define MAX_KEYS 32

struct parser {
	struct cfg *cfg;
	struct cfg_errors *errs;
	const char *file;
	FILE *fp;
	char *buf;
	size_t bufsz;
	int line;
	bool state_only;
	bool have_key; /* a key since the last header (continuations) */
	int nerr;
	int syntax_line; /* last line the reader flagged */
	enum sect_kind kind;
	char section[128]; /* as written, for messages */
	const char *name;  /* the NAME part of section */
	uint32_t obj;	   /* index of the service / check */
	size_t mod;	   /* index of the module */
	int key_line[MAX_KEYS];
};

struct key_def {
	const char *key;
	bool repeat;
	int (*fn)(struct parser *p, const char *v, char *err, size_t n);
};

/* ---- errors ------------------------------------------------------------ */

void
cfg_errors_add(struct cfg_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (e == NULL)
		return;
	if (e->n >= CFG_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **nm = realloc(e->msg, cap * sizeof(*nm));

		if (nm == NULL) {
			e->dropped++;
			return;
		}
		e->msg = nm;
		e->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (m == NULL) {
		e->dropped++;
		return;
	}
	e->msg[e->n++] = m;
}

void
cfg_errors_print(const struct cfg_errors *e, FILE *out)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(out, "%s\n", e->msg[i]);
	if (e->dropped)
		fprintf(out, "(%zu more errors)\n", e->dropped);
}

void
cfg_errors_free(struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	memset(e, 0, sizeof(*e));
}

static void perr(struct parser *p, const char *key, const char *value,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "file:line: [section] key: 'value': problem" */
static void
perr(struct parser *p, const char *key, const char *value, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p->nerr++;
	if (key != NULL && p->section[0] == '\0')
		cfg_errors_add(p->errs, "%s:%d: %s: %s", p->file, p->line, key,
			       what);
	else if (key != NULL && value != NULL)
		cfg_errors_add(p->errs, "%s:%d: [%s] %s: '%s': %s", p->file,
			       p->line, p->section, key, value, what);
	else if (key != NULL)
		cfg_errors_add(p->errs, "%s:%d: [%s] %s: %s", p->file, p->line,
			       p->section, key, what);
	else if (p->section[0] != '\0')
		cfg_errors_add(p->errs, "%s:%d: [%s]: %s", p->file, p->line,
			       p->section, what);
	else
		cfg_errors_add(p->errs, "%s:%d: %s", p->file, p->line, what);
}

/* ---- small value parsers ----------------------------------------------- */

int
cfg_parse_duration_ms(const char *s, uint32_t *ms)
{
	unsigned long long whole = 0, frac = 0, fdiv = 1, mult;
	const char *q = s;

	if (!isdigit((unsigned char)*q))
		return -EINVAL;
	for (; isdigit((unsigned char)*q); q++) {
		whole = whole * 10 + (unsigned long long)(*q - '0');
		if (whole > 100000000ull)
			return -ERANGE;
	}
	if (*q == '.') {
		q++;
		if (!isdigit((unsigned char)*q))
			return -EINVAL;
		for (; isdigit((unsigned char)*q); q++)
			if (fdiv < 1000000) {
				frac = frac * 10 +
				       (unsigned long long)(*q - '0');
				fdiv *= 10;
			}
	}
	if (*q == '\0' || strcmp(q, "s") == 0)
		mult = 1000;
	else if (strcmp(q, "ms") == 0)
		mult = 1;
	else if (strcmp(q, "m") == 0)
		mult = 60000;
	else if (strcmp(q, "h") == 0)
		mult = 3600000;
	else
		return -EINVAL;
	whole = whole * mult + frac * mult / fdiv;
	if (whole > UINT32_MAX)
		return -ERANGE;
	*ms = (uint32_t)whole;
	return 0;
}

static const char *const sched_names[] = {
	"rr", "wrr", "lc", "wlc", "sh", "mh", "lrt",
};

bool
cfg_sched_valid(const char *s)
{
	for (size_t i = 0; i < sizeof(sched_names) / sizeof(sched_names[0]);
	     i++)
		if (strcmp(s, sched_names[i]) == 0)
			return true;
	return false;
}

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

static bool
is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static bool
name_valid(const char *s)
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
k_log_level(struct parser *p, const char *v, char *err, size_t n)
{
	int l = lb_log_level_parse(v);

	if (l < 0) {
		snprintf(err, n, "expected err|warning|notice|info|debug");
		return -1;
	}
	p->cfg->log_level = l;
	return 0;
}

static int
k_log_target(struct parser *p, const char *v, char *err, size_t n)
{
	if (strcmp(v, "stderr") == 0)
		p->cfg->log_syslog = false;
	else if (strcmp(v, "syslog") == 0)
		p->cfg->log_syslog = true;
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

static int
k_ctl_socket(struct parser *p, const char *v, char *err, size_t n)
{
	return set_path(p->cfg->ctl_socket, CFG_SOCKPATH_MAX, v, err, n);
}

static int
k_state_file(struct parser *p, const char *v, char *err, size_t n)
{
	return set_path(p->cfg->state_file, PATH_MAX - 16, v, err, n);
}

static int
k_reconcile(struct parser *p, const char *v, char *err, size_t n)
{
	if (cfg_parse_duration_ms(v, &p->cfg->reconcile_ms) < 0) {
		snprintf(err, n, "expected a duration (30s, 500ms, 1m)");
		return -1;
	}
	return 0;
}

static int
k_dp_socket(struct parser *p, const char *v, char *err, size_t n)
{
	return set_path(p->cfg->dp_socket, CFG_SOCKPATH_MAX, v, err, n);
}

static int
k_listen(struct parser *p, const char *v, char *err, size_t n)
{
	int rc = lb_addr_port_parse(v, &p->cfg->metrics_addr,
				    &p->cfg->metrics_port, false);

	if (rc < 0)
		return addr_port_error(rc, err, n);
	p->cfg->metrics_enabled = true;
	return 0;
}

static int
k_metrics_path(struct parser *p, const char *v, char *err, size_t n)
{
	if (v[0] != '/') {
		snprintf(err, n, "must start with '/'");
		return -1;
	}
	return copy_text(p->cfg->metrics_path, v, false, err, n);
}

static const struct key_def global_keys[] = {
	{ "log_level", false, k_log_level },
	{ "log_target", false, k_log_target },
	{ "ctl_socket", false, k_ctl_socket },
	{ "state_file", false, k_state_file },
	{ "reconcile_interval", false, k_reconcile },
	{ NULL, false, NULL },
};

static const struct key_def dataplane_keys[] = {
	{ "socket", false, k_dp_socket },
	{ NULL, false, NULL },
};

static const struct key_def metrics_keys[] = {
	{ "listen", false, k_listen },
	{ "path", false, k_metrics_path },
	{ NULL, false, NULL },
};

/* ---- [service NAME] ---------------------------------------------------- */

#define SVC(p) (&(p)->cfg->services[(p)->obj])
#define CHK(p) (&(p)->cfg->checks[(p)->obj])

static int
k_vip(struct parser *p, const char *v, char *err, size_t n)
{
	int rc = lb_addr_port_parse(v, &SVC(p)->vip, &SVC(p)->vport, false);

	return rc < 0 ? addr_port_error(rc, err, n) : 0;
}

static int
k_proto(struct parser *p, const char *v, char *err, size_t n)
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
k_mode(struct parser *p, const char *v, char *err, size_t n)
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
k_sched(struct parser *p, const char *v, char *err, size_t n)
{
	if (!cfg_sched_valid(v)) {
		snprintf(err, n, "expected rr|wrr|lc|wlc|sh|mh|lrt");
		return -1;
	}
	strcpy(SVC(p)->sched, v);
	return 0;
}

static int
k_persist(struct parser *p, const char *v, char *err, size_t n)
{
	int rc = lb_parse_u32(v, 0, 2592000, &SVC(p)->persist);

	if (rc < 0) {
		snprintf(err, n,
			 rc == -ERANGE ? "out of range (0-2592000)"
				       : "expected seconds");
		return -1;
	}
	return 0;
}

static int
k_backend(struct parser *p, const char *v, char *err, size_t n)
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
		if (strncmp(tok, "weight=", 7) != 0) {
			snprintf(err, n,
				 "unknown option '%s' (expected weight=N)",
				 tok);
			return -1;
		}
		if (lb_parse_u32(tok + 7, 0, LB_WEIGHT_MAX, &b.weight) < 0) {
			snprintf(err, n, "weight out of range (0-%u)",
				 LB_WEIGHT_MAX);
			return -1;
		}
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
k_laddr(struct parser *p, const char *v, char *err, size_t n)
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
k_toa(struct parser *p, const char *v, char *err, size_t n)
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
k_proxy(struct parser *p, const char *v, char *err, size_t n)
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
k_mh_size(struct parser *p, const char *v, char *err, size_t n)
{
	uint32_t m;

	if (lb_parse_u32(v, 7, 16777216, &m) < 0 || !is_prime(m)) {
		snprintf(err, n, "expected a prime number in 7-16777216");
		return -1;
	}
	SVC(p)->mh_size = m;
	return 0;
}

static int
k_svc_check(struct parser *p, const char *v, char *err, size_t n)
{
	if (!name_valid(v)) {
		snprintf(err, n, "invalid name");
		return -1;
	}
	strcpy(SVC(p)->check, v);
	return 0;
}

static int
k_on_fail(struct parser *p, const char *v, char *err, size_t n)
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

static const struct key_def service_keys[] = {
	{ "vip", false, k_vip },
	{ "proto", false, k_proto },
	{ "mode", false, k_mode },
	{ "scheduler", false, k_sched },
	{ "persistence", false, k_persist },
	{ "backend", true, k_backend },
	{ "laddr", true, k_laddr },
	{ "toa", false, k_toa },
	{ "proxy_protocol", false, k_proxy },
	{ "mh_size", false, k_mh_size },
	{ "healthcheck", false, k_svc_check },
	{ "on_fail", false, k_on_fail },
	{ NULL, false, NULL },
};

/* ---- [healthcheck NAME] ------------------------------------------------ */

static int
k_hc_type(struct parser *p, const char *v, char *err, size_t n)
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
hc_duration(const char *v, uint32_t min, uint32_t *out, char *err, size_t n)
{
	int rc = cfg_parse_duration_ms(v, out);

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
k_interval(struct parser *p, const char *v, char *err, size_t n)
{
	return hc_duration(v, 100, &CHK(p)->interval_ms, err, n);
}

static int
k_timeout(struct parser *p, const char *v, char *err, size_t n)
{
	return hc_duration(v, 10, &CHK(p)->timeout_ms, err, n);
}

static int
hc_count(const char *v, uint32_t *out, char *err, size_t n)
{
	if (lb_parse_u32(v, 1, 100, out) < 0) {
		snprintf(err, n, "expected a number in 1-100");
		return -1;
	}
	return 0;
}

static int
k_rise(struct parser *p, const char *v, char *err, size_t n)
{
	return hc_count(v, &CHK(p)->rise, err, n);
}

static int
k_fall(struct parser *p, const char *v, char *err, size_t n)
{
	return hc_count(v, &CHK(p)->fall, err, n);
}

static int
k_hc_port(struct parser *p, const char *v, char *err, size_t n)
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
k_path(struct parser *p, const char *v, char *err, size_t n)
{
	if (v[0] != '/') {
		snprintf(err, n, "must start with '/'");
		return -1;
	}
	return copy_text(CHK(p)->path, v, false, err, n);
}

static int
k_host(struct parser *p, const char *v, char *err, size_t n)
{
	if (!token_valid(v)) {
		snprintf(err, n, "contains a space or control character");
		return -1;
	}
	return copy_text(CHK(p)->host, v, false, err, n);
}

static int
k_expect_status(struct parser *p, const char *v, char *err, size_t n)
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
k_expect_body(struct parser *p, const char *v, char *err, size_t n)
{
	return copy_text(CHK(p)->expect_body, v, true, err, n);
}

static int
k_send(struct parser *p, const char *v, char *err, size_t n)
{
	return unescape(v, CHK(p)->send, &CHK(p)->send_len, err, n);
}

static int
k_expect(struct parser *p, const char *v, char *err, size_t n)
{
	return unescape(v, CHK(p)->expect, &CHK(p)->expect_len, err, n);
}

static const struct key_def check_keys[] = {
	{ "type", false, k_hc_type },
	{ "interval", false, k_interval },
	{ "timeout", false, k_timeout },
	{ "rise", false, k_rise },
	{ "fall", false, k_fall },
	{ "port", false, k_hc_port },
	{ "path", false, k_path },
	{ "host", false, k_host },
	{ "expect_status", false, k_expect_status },
	{ "expect_body", false, k_expect_body },
	{ "send", false, k_send },
	{ "expect", false, k_expect },
	{ NULL, false, NULL },
};

/* ---- sections ---------------------------------------------------------- */

static void
check_init(struct cfg_check *k)
{
	memset(k, 0, sizeof(*k));
	k->interval_ms = 2000;
	k->timeout_ms = 1000;
	k->rise = 2;
	k->fall = 3;
}

static int
open_service(struct parser *p)
{
	struct cfg *c = p->cfg;
	struct cfg_service *old = cfg_service_find(c, p->name);
	struct cfg_service s;

	if (old != NULL) {
		perr(p, NULL, NULL, "service defined twice (first on line %d)",
		     old->line);
		return -1;
	}
	cfg_service_init(&s);
	strcpy(s.name, p->name);
	s.line = p->line;
	if (cfg_service_add(c, &s) < 0) {
		perr(p, NULL, NULL, "out of memory");
		return -1;
	}
	p->obj = c->nservices - 1;
	return 0;
}

static int
open_check(struct parser *p)
{
	struct cfg *c = p->cfg;
	const struct cfg_check *old = cfg_check_find(c, p->name);

	if (old != NULL) {
		perr(p, NULL, NULL,
		     "healthcheck defined twice (first on line %d)", old->line);
		return -1;
	}
	if (c->nchecks == c->cap_checks) {
		uint32_t cap = c->cap_checks ? c->cap_checks * 2 : 8;
		struct cfg_check *nk = realloc(c->checks, cap * sizeof(*nk));

		if (nk == NULL) {
			perr(p, NULL, NULL, "out of memory");
			return -1;
		}
		c->checks = nk;
		c->cap_checks = cap;
	}
	check_init(&c->checks[c->nchecks]);
	strcpy(c->checks[c->nchecks].name, p->name);
	c->checks[c->nchecks].line = p->line;
	p->obj = c->nchecks++;
	return 0;
}

/* Classify a section header "type [name]" and open it. */
static void
open_section(struct parser *p, const char *text)
{
	static const struct {
		const char *type;
		enum sect_kind kind;
		bool named;
	} kinds[] = {
		{ "global", S_GLOBAL, false },
		{ "dataplane", S_DATAPLANE, false },
		{ "metrics", S_METRICS, false },
		{ "service", S_SERVICE, true },
		{ "healthcheck", S_CHECK, true },
		{ "port", S_PORT, true },
	};
	char type[64];
	const char *sp;
	size_t tl;
	bool named = false, found = false;

	snprintf(p->section, sizeof(p->section), "%s", text);
	memset(p->key_line, 0, sizeof(p->key_line));
	p->have_key = false;
	p->kind = S_BAD;
	sp = strpbrk(p->section, " \t");
	tl = sp != NULL ? (size_t)(sp - p->section) : strlen(p->section);
	if (tl == 0 || tl >= sizeof(type)) {
		perr(p, NULL, NULL, "unknown section");
		return;
	}
	memcpy(type, p->section, tl);
	type[tl] = '\0';
	p->name = NULL;
	if (sp != NULL) {
		p->name = sp + strspn(sp, " \t");
		if (*p->name == '\0')
			p->name = NULL;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].type) == 0) {
			p->kind = kinds[i].kind;
			named = kinds[i].named;
			found = true;
		}
	for (size_t i = 0; !found && i < p->cfg->nmods; i++)
		if (strcmp(type, p->cfg->mods[i]->section) == 0) {
			p->kind = S_MODULE;
			p->mod = i;
			named = p->cfg->mods[i]->named;
			found = true;
		}
	if (!found) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "unknown section");
		return;
	}
	if (p->state_only && p->kind != S_SERVICE) {
		p->kind = S_BAD;
		perr(p, NULL, NULL,
		     "only [service NAME] sections are allowed in a state "
		     "file");
		return;
	}
	if (named && p->name == NULL) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "section needs a name: [%s NAME]", type);
		return;
	}
	if (!named && p->name != NULL) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "section takes no name: [%s]", type);
		return;
	}
	if (named && p->kind != S_PORT && !name_valid(p->name)) {
		p->kind = S_BAD;
		perr(p, NULL, NULL,
		     "invalid name (1-%d characters of A-Z a-z 0-9 _ . : -)",
		     LB_NAME_MAX);
		return;
	}
	if (p->kind == S_METRICS && p->cfg->metrics_line == 0)
		p->cfg->metrics_line = p->line;
	if ((p->kind == S_SERVICE && open_service(p) < 0) ||
	    (p->kind == S_CHECK && open_check(p) < 0)) {
		p->kind = S_BAD;
		return;
	}
	if (p->kind == S_MODULE) {
		const struct cfg_module_ops *ops = p->cfg->mods[p->mod];
		char err[256] = "";

		if (ops->open != NULL &&
		    ops->open(p->cfg->mod_state[p->mod], p->name, p->line, err,
			      sizeof(err)) < 0) {
			perr(p, NULL, NULL, "%s", err);
			p->kind = S_BAD;
		}
	}
}

static void
do_key(struct parser *p, const struct key_def *keys, const char *key,
       const char *value)
{
	char err[256] = "";
	int i;

	for (i = 0; keys[i].key != NULL; i++)
		if (strcmp(keys[i].key, key) == 0)
			break;
	if (keys[i].key == NULL) {
		perr(p, key, NULL, "unknown key");
		return;
	}
	if (!keys[i].repeat && i < MAX_KEYS && p->key_line[i] != 0) {
		perr(p, key, value, "given twice (first on line %d)",
		     p->key_line[i]);
		return;
	}
	if (i < MAX_KEYS)
		p->key_line[i] = p->line;
	if (value[0] == '\0') {
		perr(p, key, NULL, "empty value");
		return;
	}
	if (keys[i].fn(p, value, err, sizeof(err)) < 0)
		perr(p, key, value, "%s", err);
}

/* inih handler: always succeeds; problems are collected in p->errs. */
static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;
	char err[256] = "";

	(void)section; /* tracked by the reader, which also sees empty ones */
	p->have_key = true;
	switch (p->kind) {
	case S_NONE:
		perr(p, key, NULL, "key outside of any section");
		break;
	case S_GLOBAL:
		do_key(p, global_keys, key, value);
		break;
	case S_DATAPLANE:
		/* the dataplane's own keys belong to edgelb-dp */
		if (strcmp(key, "socket") == 0)
			do_key(p, dataplane_keys, key, value);
		break;
	case S_METRICS:
		do_key(p, metrics_keys, key, value);
		break;
	case S_SERVICE:
		do_key(p, service_keys, key, value);
		break;
	case S_CHECK:
		do_key(p, check_keys, key, value);
		break;
	case S_MODULE: {
		const struct cfg_module_ops *ops = p->cfg->mods[p->mod];

		if (ops->key == NULL)
			perr(p, key, NULL, "[%s] takes no keys", ops->section);
		else if (ops->key(p->cfg->mod_state[p->mod], p->name, key,
				  value, err, sizeof(err)) < 0)
			perr(p, key, value, "%s", err);
		break;
	}
	case S_BAD:
	case S_PORT:
		break;
	}
	return 1;
}

/*
 * inih reader: one line per call. Counts lines, opens sections, flags
 * overlong lines and lines that are neither a section, a key, a comment
 * nor a continuation (those are then handed to inih as blank lines).
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t len = getline(&p->buf, &p->bufsz, p->fp);
	char *s;

	if (len < 0)
		return NULL;
	p->line++;
	while (len > 0 && (p->buf[len - 1] == '\n' || p->buf[len - 1] == '\r'))
		p->buf[--len] = '\0';
	s = p->buf;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	if (len > num - 3) {
		perr(p, NULL, NULL, "line longer than %d characters", num - 3);
		goto blank;
	}
	if (isspace((unsigned char)*s) && p->have_key)
		goto pass; /* continuation of the last key */
	s += strspn(s, " \t");
	if (*s == '\0' || *s == ';' || *s == '#')
		goto pass;
	if (*s == '[') {
		char *end = strchr(s, ']');

		if (end == NULL) {
			p->kind = S_BAD;
			p->section[0] = '\0';
			perr(p, NULL, NULL, "section header without ']'");
			goto blank;
		}
		*end = '\0';
		s++;
		s += strspn(s, " \t");
		while (end > s && isspace((unsigned char)end[-1]))
			*--end = '\0';
		open_section(p, s);
		snprintf(str, (size_t)num, "[x]\n");
		return str;
	}
	if (strpbrk(s, "=:") == NULL) {
		perr(p, NULL, NULL, "syntax error: expected 'key = value'");
		goto blank;
	}
pass:
	snprintf(str, (size_t)num, "%s\n", p->buf);
	return str;
blank:
	p->syntax_line = p->line;
	snprintf(str, (size_t)num, "\n");
	return str;
}

static int
parse_fp(struct cfg *c, FILE *fp, const char *file, bool state_only,
	 struct cfg_errors *e)
{
	struct parser p = {
		.cfg = c,
		.errs = e,
		.file = file,
		.fp = fp,
		.state_only = state_only,
		.kind = S_NONE,
	};
	int rc;

	rc = ini_parse_stream(read_line, &p, on_key, &p);
	free(p.buf);
	if (rc > 0 && rc != p.syntax_line) {
		p.line = rc;
		p.section[0] = '\0';
		perr(&p, NULL, NULL, "syntax error");
	} else if (rc < 0) {
		cfg_errors_add(e, "%s: read error", file);
		return -EIO;
	}
	return p.nerr ? -EINVAL : 0;
}

int
cfg_parse_file(struct cfg *c, const char *path, struct cfg_errors *e)
{
	FILE *fp = fopen(path, "re");
	int rc;

	if (fp == NULL) {
		rc = -errno;
		cfg_errors_add(e, "%s: %s", path, strerror(-rc));
		return rc;
	}
	snprintf(c->file, sizeof(c->file), "%s", path);
	rc = parse_fp(c, fp, path, false, e);
	fclose(fp);
	return rc;
}

int
cfg_parse_state(struct cfg *c, const char *path, struct cfg_errors *e)
{
	struct cfg *tmp;
	FILE *fp = fopen(path, "re");
	int rc;

	if (fp == NULL) {
		rc = -errno;
		if (rc != -ENOENT)
			cfg_errors_add(e, "%s: %s", path, strerror(-rc));
		return rc;
	}
	tmp = cfg_new(NULL, 0);
	if (tmp == NULL) {
		fclose(fp);
		return -ENOMEM;
	}
	rc = parse_fp(tmp, fp, path, true, e);
	fclose(fp);
	if (rc == 0) {
		struct cfg_service *sv = c->services;
		uint32_t n = c->nservices, cap = c->cap_services;

		c->services = tmp->services;
		c->nservices = tmp->nservices;
		c->cap_services = tmp->cap_services;
		tmp->services = sv;
		tmp->nservices = n;
		tmp->cap_services = cap;
	}
	cfg_free(tmp);
	return rc;
}

/* ---- services, backends, local addresses -------------------------------- */

void
cfg_service_init(struct cfg_service *s)
{
	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_TCP;
	strcpy(s->sched, CFG_DEFAULT_SCHED);
}

void
cfg_service_release(struct cfg_service *s)
{
	free(s->backends);
	free(s->laddrs);
	s->backends = NULL;
	s->laddrs = NULL;
	s->nbackends = s->cap_backends = 0;
	s->nladdrs = s->cap_laddrs = 0;
}

int
cfg_service_copy(struct cfg_service *dst, const struct cfg_service *src)
{
	struct cfg_backend *b = NULL;
	struct lb_addr *l = NULL;

	if (src->nbackends) {
		b = malloc(src->nbackends * sizeof(*b));
		if (b == NULL)
			goto err;
		memcpy(b, src->backends, src->nbackends * sizeof(*b));
	}
	if (src->nladdrs) {
		l = malloc(src->nladdrs * sizeof(*l));
		if (l == NULL)
			goto err;
		memcpy(l, src->laddrs, src->nladdrs * sizeof(*l));
	}
	*dst = *src;
	dst->backends = b;
	dst->cap_backends = src->nbackends;
	dst->laddrs = l;
	dst->cap_laddrs = src->nladdrs;
	return 0;
err:
	free(b);
	return -ENOMEM;
}

int
cfg_service_add(struct cfg *c, const struct cfg_service *s)
{
	if (c->nservices == c->cap_services) {
		uint32_t cap = c->cap_services ? c->cap_services * 2 : 8;
		struct cfg_service *ns =
			realloc(c->services, cap * sizeof(*ns));

		if (ns == NULL)
			return -ENOMEM;
		c->services = ns;
		c->cap_services = cap;
	}
	if (cfg_service_copy(&c->services[c->nservices], s) < 0)
		return -ENOMEM;
	c->nservices++;
	return 0;
}

void
cfg_service_remove(struct cfg *c, uint32_t i)
{
	if (i >= c->nservices)
		return;
	cfg_service_release(&c->services[i]);
	memmove(&c->services[i], &c->services[i + 1],
		(c->nservices - i - 1) * sizeof(c->services[0]));
	c->nservices--;
}

struct cfg_service *
cfg_service_find(const struct cfg *c, const char *name)
{
	for (uint32_t i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

struct cfg_service *
cfg_service_find_key(const struct cfg *c, uint8_t proto,
		     const struct lb_addr *vip, uint16_t vport)
{
	for (uint32_t i = 0; i < c->nservices; i++) {
		struct cfg_service *s = &c->services[i];

		if (s->proto == proto && s->vport == vport &&
		    lb_addr_equal(&s->vip, vip))
			return s;
	}
	return NULL;
}

const struct cfg_check *
cfg_check_find(const struct cfg *c, const char *name)
{
	for (uint32_t i = 0; i < c->nchecks; i++)
		if (strcmp(c->checks[i].name, name) == 0)
			return &c->checks[i];
	return NULL;
}

struct cfg_backend *
cfg_backend_find(const struct cfg_service *s, const struct lb_addr *addr,
		 uint16_t port)
{
	for (uint32_t i = 0; i < s->nbackends; i++)
		if (s->backends[i].port == port &&
		    lb_addr_equal(&s->backends[i].addr, addr))
			return &s->backends[i];
	return NULL;
}

int
cfg_backend_add(struct cfg_service *s, const struct cfg_backend *b)
{
	if (cfg_backend_find(s, &b->addr, b->port) != NULL)
		return -EEXIST;
	if (s->nbackends == s->cap_backends) {
		uint32_t cap = s->cap_backends ? s->cap_backends * 2 : 4;
		struct cfg_backend *nb =
			realloc(s->backends, cap * sizeof(*nb));

		if (nb == NULL)
			return -ENOMEM;
		s->backends = nb;
		s->cap_backends = cap;
	}
	s->backends[s->nbackends++] = *b;
	return 0;
}

int
cfg_backend_del(struct cfg_service *s, const struct lb_addr *addr,
		uint16_t port)
{
	struct cfg_backend *b = cfg_backend_find(s, addr, port);
	size_t i;

	if (b == NULL)
		return -ENOENT;
	i = (size_t)(b - s->backends);
	memmove(b, b + 1, (s->nbackends - i - 1) * sizeof(*b));
	s->nbackends--;
	return 0;
}

int
cfg_laddr_add(struct cfg_service *s, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&s->laddrs[i], a))
			return -EEXIST;
	if (s->nladdrs == s->cap_laddrs) {
		uint32_t cap = s->cap_laddrs ? s->cap_laddrs * 2 : 4;
		struct lb_addr *nl = realloc(s->laddrs, cap * sizeof(*nl));

		if (nl == NULL)
			return -ENOMEM;
		s->laddrs = nl;
		s->cap_laddrs = cap;
	}
	s->laddrs[s->nladdrs++] = *a;
	return 0;
}

int
cfg_laddr_del(struct cfg_service *s, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&s->laddrs[i], a)) {
			memmove(&s->laddrs[i], &s->laddrs[i + 1],
				(s->nladdrs - i - 1) * sizeof(*a));
			s->nladdrs--;
			return 0;
		}
	return -ENOENT;
}

/* ---- validation -------------------------------------------------------- */

typedef void (*report_fn)(void *arg, int line, const char *msg);

/*
 * Report every problem of s; others are the services s must not clash
 * with (those before it in the file, or all but skip for lbctl).
 */
static int
service_problems(const struct cfg *c, const struct cfg_service *s,
		 uint32_t nothers, const struct cfg_service *skip,
		 report_fn report, void *arg)
{
	char buf[320], a[LB_ADDRPORTSTRLEN];
	int bad = 0;

#define PROBLEM(line, ...)                                                     \
	do {                                                                   \
		snprintf(buf, sizeof(buf), __VA_ARGS__);                       \
		report(arg, line, buf);                                        \
		bad++;                                                         \
	} while (0)

	if (!name_valid(s->name))
		PROBLEM(s->line, "invalid service name '%s'", s->name);
	if (s->vip.family == 0)
		PROBLEM(s->line, "vip is required");
	if (s->mode == LB_MODE_UNSET)
		PROBLEM(s->line, "mode is required");
	if (!cfg_sched_valid(s->sched))
		PROBLEM(s->line, "unknown scheduler '%s'", s->sched);
	if (s->nladdrs && s->mode != LB_MODE_FNAT && s->mode != LB_MODE_UNSET)
		PROBLEM(s->line, "laddr is only valid with mode fnat");
	if (s->mode == LB_MODE_FNAT && s->nladdrs == 0)
		PROBLEM(s->line, "mode fnat needs at least one laddr");
	if ((s->flags & LB_SVC_F_TOA) && s->mode != LB_MODE_FNAT)
		PROBLEM(s->line, "toa is only valid with mode fnat");
	if ((s->flags & LB_SVC_F_PROXY_V2) && s->mode != LB_MODE_FNAT)
		PROBLEM(s->line, "proxy_protocol is only valid with mode fnat");
	if ((s->flags & (LB_SVC_F_TOA | LB_SVC_F_PROXY_V2)) &&
	    s->proto != IPPROTO_TCP)
		PROBLEM(s->line, "toa and proxy_protocol need proto tcp");
	if (s->mh_size && strcmp(s->sched, "mh") != 0)
		PROBLEM(s->line, "mh_size is only valid with scheduler mh");
	if (strcmp(s->sched, "lrt") == 0 &&
	    (s->mode == LB_MODE_DR || s->mode == LB_MODE_TUNNEL))
		PROBLEM(s->line, "scheduler lrt needs mode nat or fnat");
	if (s->check[0] && cfg_check_find(c, s->check) == NULL)
		PROBLEM(s->line, "healthcheck '%s' is not defined", s->check);
	for (uint32_t i = 0; i < s->nbackends; i++) {
		const struct cfg_backend *b = &s->backends[i];

		if (s->vip.family && s->mode != LB_MODE_FNAT &&
		    b->addr.family != s->vip.family)
			PROBLEM(b->line ? b->line : s->line,
				"backend %s: address family differs from the "
				"vip",
				lb_addr_port_format(&b->addr, b->port, a,
						    sizeof(a)));
	}
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (s->nbackends &&
		    s->laddrs[i].family != s->backends[0].addr.family)
			PROBLEM(s->line,
				"laddr %s: address family differs from the "
				"backends",
				lb_addr_format(&s->laddrs[i], a, sizeof(a)));
	for (uint32_t i = 0; i < nothers && s->vip.family; i++) {
		const struct cfg_service *o = &c->services[i];

		if (o == s || o == skip)
			continue;
		if (strcmp(o->name, s->name) == 0)
			PROBLEM(s->line, "service name '%s' already used",
				s->name);
		if (o->proto == s->proto && o->vport == s->vport &&
		    lb_addr_equal(&o->vip, &s->vip))
			PROBLEM(s->line,
				"vip %s %s is already used by [service %s]",
				lb_proto_name(s->proto),
				lb_addr_port_format(&s->vip, s->vport, a,
						    sizeof(a)),
				o->name);
	}
#undef PROBLEM
	return bad ? -EINVAL : 0;
}

struct first_err {
	char *buf;
	size_t len;
	bool set;
};

static void
report_first(void *arg, int line, const char *msg)
{
	struct first_err *f = arg;

	(void)line;
	if (!f->set)
		snprintf(f->buf, f->len, "%s", msg);
	f->set = true;
}

int
cfg_service_check(const struct cfg *c, const struct cfg_service *s,
		  const struct cfg_service *skip, char *err, size_t errlen)
{
	struct first_err f = { err, errlen, false };

	return service_problems(c, s, c->nservices, skip, report_first, &f);
}

struct file_report {
	const struct cfg *c;
	const char *what; /* "service web" */
	struct cfg_errors *e;
};

static void
report_file(void *arg, int line, const char *msg)
{
	struct file_report *r = arg;

	if (line > 0)
		cfg_errors_add(r->e, "%s:%d: [%s]: %s", r->c->file, line,
			       r->what, msg);
	else
		cfg_errors_add(r->e, "%s: [%s]: %s", r->c->file, r->what, msg);
}

static int
check_problems(const struct cfg *c, struct cfg_check *k, struct cfg_errors *e)
{
	bool http = k->type == CFG_CHECK_HTTP || k->type == CFG_CHECK_HTTPS;
	int bad = 0;

#define PROBLEM(...)                                                           \
	do {                                                                   \
		cfg_errors_add(e, "%s:%d: [healthcheck %s]: " __VA_ARGS__);    \
		bad++;                                                         \
	} while (0)

	if (k->type == CFG_CHECK_NONE)
		PROBLEM("type is required", c->file, k->line, k->name);
	if (k->interval_ms <= k->timeout_ms)
		PROBLEM("interval (%u ms) must be greater than timeout (%u ms)",
			c->file, k->line, k->name, k->interval_ms,
			k->timeout_ms);
	if (!http && k->type != CFG_CHECK_NONE &&
	    (k->path[0] || k->host[0] || k->expect_body[0] || k->expect_status))
		PROBLEM("path, host, expect_status and expect_body need type "
			"http or https",
			c->file, k->line, k->name);
	if (k->type != CFG_CHECK_UDP && k->type != CFG_CHECK_NONE &&
	    (k->send_len || k->expect_len))
		PROBLEM("send and expect need type udp", c->file, k->line,
			k->name);
	if (k->type == CFG_CHECK_UDP && k->send_len == 0)
		PROBLEM("type udp needs send", c->file, k->line, k->name);
#undef PROBLEM
	if (http && k->path[0] == '\0')
		strcpy(k->path, "/");
	if (http && k->expect_status == 0)
		k->expect_status = 200;
	return bad;
}

int
cfg_validate(struct cfg *c, struct cfg_errors *e)
{
	char err[256];
	int bad = 0;

	if (c->ctl_socket[0] && strcmp(c->ctl_socket, c->dp_socket) == 0) {
		cfg_errors_add(e,
			       "%s: [global] ctl_socket: '%s': same path as "
			       "[dataplane] socket",
			       c->file, c->ctl_socket);
		bad++;
	}
	if (c->metrics_line && !c->metrics_enabled) {
		cfg_errors_add(e, "%s:%d: [metrics]: listen is required",
			       c->file, c->metrics_line);
		bad++;
	}
	for (uint32_t i = 0; i < c->nchecks; i++)
		bad += check_problems(c, &c->checks[i], e);
	for (uint32_t i = 0; i < c->nservices; i++) {
		char what[LB_NAME_MAX + 16];
		struct file_report r = { c, what, e };

		snprintf(what, sizeof(what), "service %s", c->services[i].name);
		if (service_problems(c, &c->services[i], i, NULL, report_file,
				     &r) < 0)
			bad++;
	}
	for (size_t i = 0; i < c->nmods; i++) {
		const struct cfg_module_ops *ops = c->mods[i];

		err[0] = '\0';
		if (ops->validate != NULL &&
		    ops->validate(c->mod_state[i], c, err, sizeof(err)) < 0) {
			cfg_errors_add(e, "%s: [%s]: %s", c->file, ops->section,
				       err);
			bad++;
		}
	}
	return bad ? -EINVAL : 0;
}

/* ---- life cycle -------------------------------------------------------- */

struct cfg *
cfg_new(const struct cfg_module_ops *const *mods, size_t nmods)
{
	struct cfg *c;

	if (nmods > CFG_MAX_MODULES) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->log_level = LOG_INFO;
	strcpy(c->ctl_socket, CFG_DEFAULT_CTL_SOCKET);
	strcpy(c->dp_socket, CFG_DEFAULT_DP_SOCKET);
	strcpy(c->metrics_path, "/metrics");
	c->reconcile_ms = 30000;
	strcpy(c->file, "-");
	c->mods = mods;
	c->nmods = nmods;
	for (size_t i = 0; i < nmods; i++) {
		if (mods[i]->create == NULL)
			continue;
		c->mod_state[i] = mods[i]->create();
		if (c->mod_state[i] == NULL)
			goto err;
	}
	return c;
err:
	cfg_free(c);
	errno = ENOMEM;
	return NULL;
}

void
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->nservices; i++)
		cfg_service_release(&c->services[i]);
	free(c->services);
	free(c->checks);
	for (size_t i = 0; i < c->nmods; i++)
		if (c->mod_state[i] != NULL && c->mods[i]->destroy != NULL)
			c->mods[i]->destroy(c->mod_state[i]);
	free(c);
}

void *
cfg_module_state(const struct cfg *c, const struct cfg_module_ops *ops)
{
	for (size_t i = 0; i < c->nmods; i++)
		if (c->mods[i] == ops)
			return c->mod_state[i];
	return NULL;
}

struct cfg *
cfg_load(const char *path, const struct cfg_module_ops *const *mods,
	 size_t nmods, struct cfg_errors *e)
{
	struct cfg *c = cfg_new(mods, nmods);
	int rc;

	if (c == NULL) {
		cfg_errors_add(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	rc = cfg_parse_file(c, path, e);
	if (rc == 0 && c->state_file[0]) {
		rc = cfg_parse_state(c, c->state_file, e);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0 || rc == -EINVAL) {
		/* validate a broken file too: report as much as possible */
		int vrc = cfg_validate(c, e);

		if (rc == 0)
			rc = vrc;
	}
	if (rc < 0) {
		cfg_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

int
cfg_check_file(const char *path, const struct cfg_module_ops *const *mods,
	       size_t nmods, FILE *out)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = cfg_load(path, mods, nmods, &e);
	int rc = c != NULL ? 0 : -errno;

	cfg_errors_print(&e, out);
	if (c != NULL)
		fprintf(out, "%s: ok (%u services, %u health checks)\n", path,
			c->nservices, c->nchecks);
	cfg_errors_free(&e);
	cfg_free(c);
	return rc;
}

/* ---- state file -------------------------------------------------------- */

int
cfg_write_services(const struct cfg *c, FILE *out)
{
	char a[LB_ADDRPORTSTRLEN];

	fprintf(out, "# edgelbd state file: the desired services, written by "
		     "edgelbd.\n# It replaces the [service] sections of the "
		     "main file; delete it to\n# return to them.\n");
	for (uint32_t i = 0; i < c->nservices; i++) {
		const struct cfg_service *s = &c->services[i];

		fprintf(out, "\n[service %s]\n", s->name);
		fprintf(out, "vip = %s\n",
			lb_addr_port_format(&s->vip, s->vport, a, sizeof(a)));
		fprintf(out, "proto = %s\n", lb_proto_name(s->proto));
		fprintf(out, "mode = %s\n", lb_mode_name(s->mode));
		fprintf(out, "scheduler = %s\n", s->sched);
		fprintf(out, "persistence = %u\n", s->persist);
		if (s->flags & LB_SVC_F_TOA)
			fprintf(out, "toa = yes\n");
		if (s->flags & LB_SVC_F_PROXY_V2)
			fprintf(out, "proxy_protocol = v2\n");
		if (s->mh_size)
			fprintf(out, "mh_size = %u\n", s->mh_size);
		if (s->check[0])
			fprintf(out, "healthcheck = %s\n", s->check);
		fprintf(out, "on_fail = %s\n",
			s->on_fail == CFG_ON_FAIL_REMOVE ? "remove"
							 : "quiesce");
		for (uint32_t j = 0; j < s->nbackends; j++)
			fprintf(out, "backend = %s weight=%u\n",
				lb_addr_port_format(&s->backends[j].addr,
						    s->backends[j].port, a,
						    sizeof(a)),
				s->backends[j].weight);
		for (uint32_t j = 0; j < s->nladdrs; j++)
			fprintf(out, "laddr = %s\n",
				lb_addr_format(&s->laddrs[j], a, sizeof(a)));
	}
	return ferror(out) ? -EIO : 0;
}

int
cfg_save_state(const struct cfg *c, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	FILE *fp = NULL;
	int fd, dfd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		rc = -errno;
		close(fd);
		goto err;
	}
	rc = cfg_write_services(c, fp);
	if (rc == 0 &&
	    (fflush(fp) != 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		goto err;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
err:
	unlink(tmp);
	return rc;
}
