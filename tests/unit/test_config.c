/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of controlplane/config.c: a table of invalid INI files, each
 * with the message (line number included) it must produce, valid files
 * parsed into the expected structure, the state file round trip and
 * --check.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <syslog.h>
#include <arpa/inet.h>

#include "config.h"
#include "hdns_conf.h"
#include "hdns_module.h"
#include "modules.h"
#include "edgelb/lbmsg.h"

static char tmpdir[] = "/tmp/test_config.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
}

/* Write text to tmpdir/name; returns the path (static buffer per call). */
static const char *
write_file(const char *name, const char *text)
{
	static char path[4][256];
	static int slot;
	char *p = path[slot++ % 4];
	FILE *fp;

	snprintf(p, 256, "%s/%s", tmpdir, name);
	fp = fopen(p, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return p;
}

static struct cfg *
load(const char *text, struct cfg_errors *e)
{
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	size_t n = lbd_cfg_modules(mods);

	return cfg_load(write_file("edgelb.ini", text), mods, n, e);
}

static bool
has_msg(const struct cfg_errors *e, const char *sub)
{
	for (size_t i = 0; i < e->n; i++)
		if (strstr(e->msg[i], sub) != NULL)
			return true;
	return false;
}

#define SVC_HEAD "[service web]\nvip = 10.0.0.1:80\nmode = dr\n"

static const struct {
	const char *ini;
	const char *expect; /* substring of one message, with the line */
} bad_cases[] = {
	{ SVC_HEAD "backend = 10.0.0.1:99999\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.1:99999': port out of "
	  "range" },
	{ "[bogus]\n", "edgelb.ini:1: [bogus]: unknown section" },
	{ SVC_HEAD "colour = blue\n",
	  "edgelb.ini:4: [service web] colour: unknown key" },
	{ "[service web]\nvip = 10.0.0.1:80\nmode = bridge\n",
	  "edgelb.ini:3: [service web] mode: 'bridge': expected "
	  "dr|nat|tunnel|fnat" },
	{ "\n[service web]\nmode = dr\n",
	  "edgelb.ini:2: [service web]: vip is required" },
	{ "[service web]\nvip = 10.0.0.1:80\n",
	  "edgelb.ini:1: [service web]: mode is required" },
	{ SVC_HEAD "laddr = 10.0.0.9\n",
	  "edgelb.ini:1: [service web]: laddr is only valid with mode fnat" },
	{ "[service web]\nvip = 10.0.0.1:80\nmode = fnat\n",
	  "edgelb.ini:1: [service web]: mode fnat needs at least one laddr" },
	{ SVC_HEAD "healthcheck = hc1\n",
	  "edgelb.ini:1: [service web]: healthcheck 'hc1' is not defined" },
	{ SVC_HEAD "[service b]\nvip = 10.0.0.1:80\nmode = nat\n",
	  "edgelb.ini:4: [service b]: vip tcp 10.0.0.1:80 is already used by "
	  "[service web]" },
	{ "[healthcheck hc]\ntype = tcp\ninterval = 1s\ntimeout = 2s\n",
	  "edgelb.ini:1: [healthcheck hc]: interval (1000 ms) must be greater "
	  "than timeout (2000 ms)" },
	{ "[healthcheck hc]\ntype = tcp\nrise = 0\n",
	  "edgelb.ini:3: [healthcheck hc] rise: '0': expected a number in "
	  "1-100" },
	{ "[healthcheck hc]\ntype = tcp\nfall = many\n",
	  "edgelb.ini:3: [healthcheck hc] fall: 'many': expected a number in "
	  "1-100" },
	{ SVC_HEAD "scheduler = random\n",
	  "edgelb.ini:4: [service web] scheduler: 'random': expected "
	  "rr|wrr|lc|wlc|sh|mh|lrt" },
	{ SVC_HEAD "backend = 10.0.0.2:80 weight=70000\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.2:80 weight=70000': "
	  "weight out of range (0-65535)" },
	{ SVC_HEAD "backend = 10.0.0.2:80\nbackend = 10.0.0.2:80 weight=3\n",
	  "edgelb.ini:5: [service web] backend: '10.0.0.2:80 weight=3': "
	  "duplicate backend (first on line 4)" },
	{ SVC_HEAD "mode = nat\n", "edgelb.ini:4: [service web] mode: 'nat': "
				   "given twice (first on line 3)" },
	{ "log_level = debug\n",
	  "edgelb.ini:1: log_level: key outside of any section" },
	{ "[global\nlog_level = debug\n",
	  "edgelb.ini:1: section header without ']'" },
	{ "[global]\nlog_level = debug\njust some words\n",
	  "edgelb.ini:3: [global]: syntax error: expected 'key = value'" },
	{ "[global]\n[httpdns]\nttl = 0\n",
	  "edgelb.ini:3: [httpdns] ttl: '0': expected 1..86400" },
	{ "[httpdns]\nfallback = 192.0.2.1\nfallback = 192.0.2.2\n"
	  "idle_timeout = 0.5s\nidle_timeout = 2h\n",
	  "edgelb.ini:5: [httpdns] idle_timeout: '2h': given twice (first on "
	  "line 4)" },
	{ "[httpdns]\nheader_timeout = 2h\n",
	  "edgelb.ini:2: [httpdns] header_timeout: '2h': expected a duration "
	  "(N, Nms, Ns, Nm, Nh) of 1ms..60m" },
	{ "[httpdns]\ncolour = red\n",
	  "edgelb.ini:2: [httpdns] colour: unknown key" },
	{ "[global]\n[push]\nlisten = 0.0.0.0\n",
	  "edgelb.ini:3: [push] listen: '0.0.0.0': expected ADDR:PORT" },
	{ "[service]\nvip = 10.0.0.1:80\n",
	  "edgelb.ini:1: [service]: section needs a name: [service NAME]" },
	{ "[global main]\n",
	  "edgelb.ini:1: [global main]: section takes no name: [global]" },
	{ "[global]\nlog_target = file\n",
	  "edgelb.ini:2: [global] log_target: 'file': expected stderr|syslog" },
	{ "[global]\nlog_level = loud\n",
	  "edgelb.ini:2: [global] log_level: 'loud': expected "
	  "err|warning|notice|info|debug" },
	{ "[global]\n\n[metrics]\npath = /m\n",
	  "edgelb.ini:3: [metrics]: listen is required" },
	{ "[metrics]\nlisten = 0.0.0.0\n",
	  "edgelb.ini:2: [metrics] listen: '0.0.0.0': expected ADDR:PORT" },
	{ SVC_HEAD "scheduler = mh\nmh_size = 100\n",
	  "edgelb.ini:5: [service web] mh_size: '100': expected a prime number "
	  "in 7-16777216" },
	{ SVC_HEAD "mh_size = 65537\n", "edgelb.ini:1: [service web]: mh_size "
					"is only valid with scheduler mh" },
	{ "[healthcheck dns]\ntype = udp\n",
	  "edgelb.ini:1: [healthcheck dns]: type udp needs send" },
	{ "[healthcheck t]\ntype = tcp\npath = /x\n",
	  "edgelb.ini:1: [healthcheck t]: path, host, expect_status and "
	  "expect_body need type http or https" },
	{ "[healthcheck t]\ntype = http\npath = health\n",
	  "edgelb.ini:3: [healthcheck t] path: 'health': must start with '/'" },
	{ "[healthcheck t]\ntype = http\nexpect_status = 700\n",
	  "edgelb.ini:3: [healthcheck t] expect_status: '700': expected an "
	  "HTTP status in 100-599" },
	{ "[healthcheck t]\ntype = smtp\n",
	  "edgelb.ini:2: [healthcheck t] type: 'smtp': expected "
	  "tcp|http|https|udp" },
	{ "[healthcheck t]\ntype = udp\nsend = \\q\n",
	  "edgelb.ini:3: [healthcheck t] send: '\\q': unknown escape '\\q'" },
	{ "[healthcheck t]\n\n; no type\ninterval = 5s\n",
	  "edgelb.ini:1: [healthcheck t]: type is required" },
	{ SVC_HEAD "scheduler = lrt\n",
	  "edgelb.ini:1: [service web]: scheduler lrt needs mode nat or fnat" },
	{ SVC_HEAD "toa = yes\n",
	  "edgelb.ini:1: [service web]: toa is only valid with mode fnat" },
	{ SVC_HEAD "mh_adopt = yes\n",
	  "edgelb.ini:1: [service web]: mh_adopt needs scheduler mh and mode "
	  "dr or tunnel" },
	{ "[service web]\nvip = 10.0.0.1:80\nmode = nat\nscheduler = "
	  "mh\nmh_adopt = yes\n",
	  "edgelb.ini:1: [service web]: mh_adopt needs scheduler mh and mode "
	  "dr or tunnel" },
	{ SVC_HEAD "scheduler = mh\nmh_adopt = sometimes\n",
	  "edgelb.ini:5: [service web] mh_adopt: 'sometimes': expected "
	  "yes|no" },
	{ SVC_HEAD "toa = maybe\n",
	  "edgelb.ini:4: [service web] toa: 'maybe': expected yes|no" },
	{ "[service web]\nvip = 10.0.0.1\n",
	  "edgelb.ini:2: [service web] vip: '10.0.0.1': expected ADDR:PORT" },
	{ "[service web]\nvip =\nmode = dr\n",
	  "edgelb.ini:2: [service web] vip: empty value" },
	{ SVC_HEAD "\n[service web]\nvip = 10.0.0.2:80\n",
	  "edgelb.ini:5: [service web]: service defined twice (first on line "
	  "1)" },
	{ "[service a/b]\n", "edgelb.ini:1: [service a/b]: invalid name" },
	{ SVC_HEAD "backend = [2001:db8::1]:80\n",
	  "edgelb.ini:4: [service web]: backend [2001:db8::1]:80: address "
	  "family differs from the vip" },
	{ SVC_HEAD "backend = 10.0.0.2:80 wieght=2\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.2:80 wieght=2': "
	  "unknown option 'wieght=2' (expected weight=N, u_threshold=N, "
	  "l_threshold=N)" },
	{ SVC_HEAD "backend = 10.0.0.2:80 u_threshold=100000001\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.2:80 "
	  "u_threshold=100000001': u_threshold out of range (0-100000000)" },
	{ SVC_HEAD "backend = 10.0.0.2:80 u_threshold=10 l_threshold=11\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.2:80 u_threshold=10 "
	  "l_threshold=11': l_threshold 11 above u_threshold 10 (0 = none)" },
	{ SVC_HEAD "backend = 10.0.0.2:80 l_threshold=x\n",
	  "edgelb.ini:4: [service web] backend: '10.0.0.2:80 l_threshold=x': "
	  "l_threshold out of range (0-100000000)" },
	{ SVC_HEAD "max_conns = 100000001\n",
	  "edgelb.ini:4: [service web] max_conns: '100000001': out of range "
	  "(0-100000000)" },
	{ SVC_HEAD "conn_rate = fast\n",
	  "edgelb.ini:4: [service web] conn_rate: 'fast': expected a number "
	  "(0-100000000, 0 = none)" },
	{ SVC_HEAD "syn_src_rate = -5\n",
	  "edgelb.ini:4: [service web] syn_src_rate: '-5': expected a number "
	  "(0-100000000, 0 = none)" },
	{ SVC_HEAD "synproxy = maybe\n",
	  "edgelb.ini:4: [service web] synproxy: 'maybe': expected "
	  "off|on|auto" },
	{ SVC_HEAD "synproxy = on\n",
	  "edgelb.ini:1: [service web]: synproxy = on needs proto tcp and "
	  "mode nat or fnat (DR and TUNNEL replies bypass us)" },
	{ "[service web]\nvip = 10.0.0.1:53\nproto = udp\nmode = dr\n"
	  "syn_src_rate = 10\n",
	  "edgelb.ini:1: [service web]: syn_src_rate needs proto tcp" },
	{ "[service web]\nvip = 10.0.0.1:80\nmode = fnat\nladdr = 10.0.0.300\n",
	  "edgelb.ini:4: [service web] laddr: '10.0.0.300': expected an IPv4 "
	  "or IPv6 address" },
	{ "[global]\nctl_socket = /run/x.sock\n[dataplane]\nsocket = "
	  "/run/x.sock\n",
	  "[global] ctl_socket: '/run/x.sock': same path as [dataplane] "
	  "socket" },
	{ "[service web]\nvip = 10.0.0.1:80\nmode = dr\npersistence = -1\n",
	  "edgelb.ini:4: [service web] persistence: '-1': expected seconds" },
	{ "[healthcheck t]\ntype = tcp\ninterval = soon\n",
	  "edgelb.ini:3: [healthcheck t] interval: 'soon': expected a duration "
	  "(2s, 500ms, 1m)" },
	{ "[global]\nshutdown_grace = -1\n",
	  "edgelb.ini:2: [global] shutdown_grace: '-1': expected a duration "
	  "(10s, 500ms, 1m)" },
	{ "[route]\n",
	  "edgelb.ini:1: [route]: section needs a name: [route NAME]" },
};

START_TEST(test_bad_file)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load(bad_cases[_i].ini, &e);

	if (c != NULL || !has_msg(&e, bad_cases[_i].expect)) {
		fprintf(stderr, "case %d: expected '%s', got:\n", _i,
			bad_cases[_i].expect);
		cfg_errors_print(&e, stderr);
	}
	ck_assert_ptr_null(c);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(has_msg(&e, bad_cases[_i].expect));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_missing_file)
{
	struct cfg_errors e = { 0 };
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	size_t n = lbd_cfg_modules(mods);
	struct cfg *c = cfg_load("/nonexistent/edgelb.ini", mods, n, &e);

	ck_assert_ptr_null(c);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(has_msg(&e, "/nonexistent/edgelb.ini: No such file"));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_all_errors_reported)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("[global]\nlog_level = loud\n"
			     "[service a]\nvip = 1.2.3.4:99999\nmode = x\n"
			     "[bogus]\n",
			     &e);

	ck_assert_ptr_null(c);
	ck_assert(has_msg(&e, ":2: [global] log_level"));
	ck_assert(has_msg(&e, ":4: [service a] vip"));
	ck_assert(has_msg(&e, ":5: [service a] mode"));
	ck_assert(has_msg(&e, ":6: [bogus]: unknown section"));
	cfg_errors_free(&e);
}
END_TEST

static const char full_ini[] =
	"; edgelb example\n"
	"[global]\n"
	"log_level = debug\n"
	"log_target = syslog\n"
	"ctl_socket = /tmp/ctl.sock\n"
	"reconcile_interval = 10s\n"
	"\n"
	"[dataplane]\n"
	"socket = /tmp/dp.sock\n"
	"lcores = 0-3   ; the dataplane's own key, ignored here\n"
	"hugepages = 1024\n"
	"\n"
	"[port eth0]\n"
	"pci = 0000:03:00.0\n"
	"address = 10.0.0.1/24\n"
	"\n"
	"[healthcheck web-http]\n"
	"type = http\n"
	"interval = 500ms\n"
	"timeout = 0.2s\n"
	"rise = 1\n"
	"fall = 2\n"
	"host = www.example.com\n"
	"expect_body = it works\n"
	"\n"
	"[healthcheck dns]\n"
	"type = udp\n"
	"send = \\x00\\x01ping\\n\n"
	"expect = pong\n"
	"\n"
	"[service web]\n"
	"vip = 192.0.2.10:443\n"
	"mode = fnat\n"
	"scheduler = mh\n"
	"mh_size = 65537\n"
	"persistence = 300\n"
	"backend = 10.1.0.1:8443 weight=5 u_threshold=1000 l_threshold=800\n"
	"backend = 10.1.0.2:8443 u_threshold=400\n"
	"          10.1.0.3:8443 weight=0\n"
	"laddr = 10.1.255.1\n"
	"laddr = 10.1.255.2\n"
	"toa = yes\n"
	"proxy_protocol = v2\n"
	"healthcheck = web-http\n"
	"on_fail = remove\n"
	"max_conns = 100000\n"
	"conn_rate = 5000\n"
	"syn_src_rate = 20\n"
	"synproxy = on\n"
	"\n"
	"[service dns6]\n"
	"vip = [2001:db8::53]:53\n"
	"proto = udp\n"
	"mode = dr\n"
	"backend = [2001:db8:1::1]:53\n"
	"healthcheck = dns\n"
	"udp_on_down = drain\n"
	"\n"
	"[metrics]\n"
	"listen = 127.0.0.1:9100\n"
	"\n"
	"[httpdns]\n"
	"fallback = 192.0.2.1\n"
	"fallback = 192.0.2.2\n"
	"idle_timeout = 0.5s\n"
	"[route api]\n"
	"direct = 200 ok\n";

START_TEST(test_full_file)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load(full_ini, &e);
	const struct cfg_service *s;
	const struct cfg_check *k;
	const struct hdns_conf *h;
	char a[LB_ADDRPORTSTRLEN];

	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(e.n, 0);
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert(c->log_syslog);
	ck_assert_str_eq(c->ctl_socket, "/tmp/ctl.sock");
	h = cfg_module_state(c, &hdns_cfg_ops);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->nfallback, 2); /* a repeatable key */
	ck_assert_uint_eq(h->idle_timeout_ms, 500);
	ck_assert_str_eq(c->dp_socket, "/tmp/dp.sock");
	ck_assert_uint_eq(c->reconcile_ms, 10000);
	ck_assert(c->metrics_enabled);
	ck_assert_uint_eq(c->metrics_port, 9100);
	ck_assert_str_eq(c->metrics_path, "/metrics");
	ck_assert_uint_eq(c->nchecks, 2);
	ck_assert_uint_eq(c->nservices, 2);

	k = cfg_check_find(c, "web-http");
	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(k->type, CFG_CHECK_HTTP);
	ck_assert_uint_eq(k->interval_ms, 500);
	ck_assert_uint_eq(k->timeout_ms, 200);
	ck_assert_uint_eq(k->rise, 1);
	ck_assert_uint_eq(k->fall, 2);
	ck_assert_str_eq(k->path, "/"); /* default */
	ck_assert_uint_eq(k->expect_status, 200);
	ck_assert_str_eq(k->host, "www.example.com");
	ck_assert_str_eq(k->expect_body, "it works");
	k = cfg_check_find(c, "dns");
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(k->send_len, 7);
	ck_assert_mem_eq(k->send, "\x00\x01ping\n", 7);
	ck_assert_uint_eq(k->expect_len, 4);
	ck_assert_uint_eq(k->interval_ms, 2000); /* defaults */
	ck_assert_uint_eq(k->timeout_ms, 1000);
	ck_assert_uint_eq(k->rise, 2);
	ck_assert_uint_eq(k->fall, 3);

	s = cfg_service_find(c, "web");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->proto, IPPROTO_TCP);
	ck_assert_str_eq(lb_addr_port_format(&s->vip, s->vport, a, sizeof(a)),
			 "192.0.2.10:443");
	ck_assert_uint_eq(s->mode, LB_MODE_FNAT);
	ck_assert_str_eq(s->sched, "mh");
	ck_assert_uint_eq(s->mh_size, 65537);
	ck_assert_uint_eq(s->persist, 300);
	ck_assert_uint_eq(s->flags, LB_SVC_F_TOA | LB_SVC_F_PROXY_V2 |
					    LB_SVC_F_SYNPROXY_ON);
	ck_assert_str_eq(s->check, "web-http");
	ck_assert_uint_eq(s->on_fail, CFG_ON_FAIL_REMOVE);
	ck_assert_uint_eq(s->nbackends, 3);
	ck_assert_uint_eq(s->backends[0].weight, 5);
	ck_assert_uint_eq(s->backends[0].u_thresh, 1000);
	ck_assert_uint_eq(s->backends[0].l_thresh, 800);
	ck_assert_uint_eq(s->backends[1].u_thresh, 400);
	ck_assert_uint_eq(s->backends[1].l_thresh, 0);
	ck_assert_uint_eq(s->backends[2].u_thresh, 0);
	ck_assert_uint_eq(s->max_conns, 100000);
	ck_assert_uint_eq(s->conn_rate, 5000);
	ck_assert_uint_eq(s->syn_src_rate, 20);
	ck_assert_int_eq(s->backends[0].line, 37);
	ck_assert_uint_eq(s->backends[1].weight, CFG_DEFAULT_WEIGHT);
	ck_assert_str_eq(lb_addr_port_format(&s->backends[2].addr,
					     s->backends[2].port, a, sizeof(a)),
			 "10.1.0.3:8443");
	ck_assert_uint_eq(s->backends[2].weight, 0);
	ck_assert_uint_eq(s->nladdrs, 2);

	s = cfg_service_find_key(c, IPPROTO_UDP, &c->services[1].vip, 53);
	ck_assert_ptr_eq(s, &c->services[1]);
	ck_assert_str_eq(s->name, "dns6");
	ck_assert_uint_eq(s->vip.family, AF_INET6);
	ck_assert_str_eq(s->sched, LB_SCHED_DEFAULT);
	ck_assert_uint_eq(s->on_fail, CFG_ON_FAIL_QUIESCE);
	ck_assert_uint_eq(s->flags, LB_SVC_F_UDP_DRAIN);
	ck_assert_uint_eq(s->max_conns, 0); /* defaults: no limits */
	ck_assert_uint_eq(s->syn_src_rate, 0);
	ck_assert_uint_eq(s->backends[0].u_thresh, 0);
	cfg_errors_free(&e);
	cfg_free(c);
}
END_TEST

/* mh_adopt on an mh DR and an mh TUNNEL service: the flag, off when not
 * given. */
START_TEST(test_mh_adopt)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("[service a]\nvip = 10.0.0.1:80\nmode = dr\n"
			     "scheduler = mh\nmh_adopt = yes\n"
			     "[service b]\nvip = 10.0.0.1:81\nmode = tunnel\n"
			     "scheduler = mh\nmh_adopt = yes\n"
			     "[service c]\nvip = 10.0.0.1:82\nmode = dr\n"
			     "scheduler = mh\n",
			     &e);

	ck_assert_msg(c != NULL, "%s", e.n ? e.msg[0] : "?");
	ck_assert_uint_eq(cfg_service_find(c, "a")->flags, LB_SVC_F_MH_ADOPT);
	ck_assert_uint_eq(cfg_service_find(c, "b")->flags, LB_SVC_F_MH_ADOPT);
	ck_assert_uint_eq(cfg_service_find(c, "c")->flags, 0);
	cfg_errors_free(&e);
	cfg_free(c);
}
END_TEST

START_TEST(test_defaults)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("", &e);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->ctl_socket, LB_DEFAULT_CTL_SOCKET);
	ck_assert_str_eq(c->dp_socket, LB_DEFAULT_DP_SOCKET);
	ck_assert(!c->metrics_enabled);
	ck_assert(!c->log_syslog);
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_uint_eq(c->shutdown_grace_ms, 10000);
	ck_assert_uint_eq(c->nservices, 0);
	cfg_free(c);
}
END_TEST

START_TEST(test_shutdown_grace)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load("[global]\nshutdown_grace = 2500ms\n", &e);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->shutdown_grace_ms, 2500);
	cfg_free(c);
	c = load("[global]\nshutdown_grace = 0\n", &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->shutdown_grace_ms, 0);
	cfg_free(c);
}
END_TEST

/* A module's section described by a key table (struct cfg_key). */
struct tmod {
	uint32_t timeout_ms;
	bool enabled;
	char path[16];
	int nnames;
};

static int
tmod_name(const struct cfg_set *p, const char *v, char *err, size_t n)
{
	(void)err;
	(void)n;
	((struct tmod *)p->obj)->nnames += strcmp(v, "-") != 0;
	return 0;
}

static const struct cfg_key tmod_keys[] = {
	{ "timeout", cfg_set_duration, offsetof(struct tmod, timeout_ms),
	  .flags = CFG_KEY_REQUIRED },
	{ "enabled", cfg_set_bool, offsetof(struct tmod, enabled) },
	{ "path", cfg_set_path, offsetof(struct tmod, path),
	  sizeof(((struct tmod *)0)->path) },
	{ "name", tmod_name, .flags = CFG_KEY_REPEAT },
	{ NULL },
};

static void *
tmod_create(void)
{
	return calloc(1, sizeof(struct tmod));
}

static const struct cfg_module_ops tmod_ops = {
	.section = "tmod",
	.create = tmod_create,
	.destroy = free,
	.keys = tmod_keys,
};

static struct cfg *
load_tmod(const char *text, struct cfg_errors *e)
{
	const struct cfg_module_ops *mods[] = { &tmod_ops };

	return cfg_load(write_file("edgelb.ini", text), mods, 1, e);
}

START_TEST(test_module_key_table)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = load_tmod("[tmod]\ntimeout = 250ms\nenabled = yes\n"
				  "path = /a/b\nname = x\nname = y\n",
				  &e);
	const struct tmod *t;

	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c);
	t = cfg_module_state(c, &tmod_ops);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->timeout_ms, 250);
	ck_assert(t->enabled);
	ck_assert_str_eq(t->path, "/a/b");
	ck_assert_int_eq(t->nnames, 2); /* repeatable */
	cfg_free(c);

	ck_assert_ptr_null(load_tmod("[tmod]\nenabled = no\n", &e));
	ck_assert(has_msg(&e, "edgelb.ini:1: [tmod]: timeout is required"));
	cfg_errors_free(&e);
	ck_assert_ptr_null(
		load_tmod("[tmod]\ntimeout = 1s\ntimeout = 2s\n", &e));
	ck_assert(has_msg(&e, "edgelb.ini:3: [tmod] timeout: '2s': given "
			      "twice (first on line 2)"));
	cfg_errors_free(&e);
	ck_assert_ptr_null(load_tmod("[tmod]\ntimeout = 1s\nenabled = maybe\n"
				     "path = /0123456789/abcdef\n",
				     &e));
	ck_assert(has_msg(&e, "[tmod] enabled: 'maybe': expected yes|no"));
	ck_assert(has_msg(&e, "path longer than 15 characters"));
	cfg_errors_free(&e);
	ck_assert_ptr_null(
		load_tmod("[tmod]\ntimeout = 1s\ncolour = red\n", &e));
	ck_assert(has_msg(&e, "edgelb.ini:3: [tmod] colour: unknown key"));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_state_round_trip)
{
	struct cfg_errors e = { 0 };
	char ini[2048], state[300];
	struct cfg *c, *c2;
	struct cfg_backend b = { .weight = 9, .u_thresh = 50, .l_thresh = 20 };
	struct cfg_service *s;

	snprintf(state, sizeof(state), "%s/state.ini", tmpdir);
	snprintf(ini, sizeof(ini),
		 "[global]\nstate_file = %s\n"
		 "[healthcheck t]\ntype = tcp\n"
		 "[service web]\nvip = 10.0.0.1:80\nmode = nat\n"
		 "backend = 10.0.0.2:80\n",
		 state);
	c = load(ini, &e);
	ck_assert_ptr_nonnull(c);
	/* an lbctl-style change: a backend and a second service */
	s = cfg_service_find(c, "web");
	ck_assert_int_eq(lb_addr_parse("10.0.0.3", &b.addr), 0);
	b.port = 8080;
	ck_assert_int_eq(cfg_backend_add(s, &b), 0);
	ck_assert_int_eq(cfg_backend_add(s, &b), -EEXIST);
	s->check[0] = 't';
	s->check[1] = '\0';
	s->flags |= LB_SVC_F_UDP_DRAIN | LB_SVC_F_SYNPROXY_OFF;
	s->max_conns = 7;
	s->conn_rate = 8;
	s->syn_src_rate = 9;
	{
		struct cfg_service n;

		cfg_service_init(&n);
		strcpy(n.name, "tcp-10.0.0.5-443");
		n.mode = LB_MODE_FNAT;
		ck_assert_int_eq(lb_addr_port_parse("10.0.0.5:443", &n.vip,
						    &n.vport, false),
				 0);
		n.flags = LB_SVC_F_TOA;
		strcpy(n.sched, "mh");
		n.mh_size = 251;
		ck_assert_int_eq(cfg_laddr_add(&n, &b.addr), 0);
		char err[256];
		ck_assert_int_eq(
			cfg_service_check(c, &n, NULL, err, sizeof(err)), 0);
		ck_assert_int_eq(cfg_service_add(c, &n), 0);
		ck_assert_int_eq(
			cfg_service_check(c, &n, NULL, err, sizeof(err)),
			-EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "already used"));
		cfg_service_release(&n);
	}
	ck_assert_int_eq(cfg_save_state(c, state), 0);
	ck_assert_int_eq(access(state, R_OK), 0);

	/* the main file now says something else: the state file wins */
	snprintf(ini, sizeof(ini),
		 "[global]\nstate_file = %s\n"
		 "[healthcheck t]\ntype = tcp\n"
		 "[service other]\nvip = 10.9.9.9:80\nmode = dr\n",
		 state);
	c2 = load(ini, &e);
	cfg_errors_print(&e, stderr);
	ck_assert_ptr_nonnull(c2);
	ck_assert_uint_eq(c2->nservices, 2);
	ck_assert_ptr_null(cfg_service_find(c2, "other"));
	s = cfg_service_find(c2, "web");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->nbackends, 2);
	ck_assert_uint_eq(s->backends[1].weight, 9);
	ck_assert_uint_eq(s->backends[1].u_thresh, 50);
	ck_assert_uint_eq(s->backends[1].l_thresh, 20);
	ck_assert_uint_eq(s->backends[0].u_thresh, 0);
	ck_assert_uint_eq(s->max_conns, 7);
	ck_assert_uint_eq(s->conn_rate, 8);
	ck_assert_uint_eq(s->syn_src_rate, 9);
	ck_assert_str_eq(s->check, "t");
	ck_assert_uint_eq(s->flags, LB_SVC_F_UDP_DRAIN | LB_SVC_F_SYNPROXY_OFF);
	s = cfg_service_find(c2, "tcp-10.0.0.5-443");
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->mode, LB_MODE_FNAT);
	ck_assert_uint_eq(s->mh_size, 251);
	ck_assert_uint_eq(s->flags, LB_SVC_F_TOA);
	ck_assert_uint_eq(s->nladdrs, 1);
	cfg_free(c);
	cfg_free(c2);

	/* a state file with other sections is refused */
	write_file("state.ini", "[global]\nlog_level = info\n");
	c = load(ini, &e);
	ck_assert_ptr_null(c);
	ck_assert(has_msg(&e, "state.ini:1: [global]: only [service NAME] "
			      "sections are allowed in a state file"));
	cfg_errors_free(&e);
}
END_TEST

START_TEST(test_check_file)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	size_t n = lbd_cfg_modules(mods);
	const char *good = write_file("good.ini", full_ini);
	const char *bad = write_file("bad.ini", SVC_HEAD "backend = x\n");

	ck_assert_int_eq(cfg_check_file(good, mods, n, fp), 0);
	fflush(fp);
	ck_assert_ptr_nonnull(strstr(out, "ok (2 services, 2 health checks)"));
	ck_assert_int_eq(cfg_check_file(bad, mods, n, fp), -EINVAL);
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(
		out,
		"bad.ini:4: [service web] backend: 'x': expected ADDR:PORT"));
	free(out);
}
END_TEST

START_TEST(test_long_line)
{
	struct cfg_errors e = { 0 };
	char ini[1024];
	struct cfg *c;

	memset(ini, 0, sizeof(ini));
	strcpy(ini, "[global]\nstate_file = /");
	memset(ini + strlen(ini), 'x', 400);
	strcat(ini, "\nlog_level = info\n");
	c = load(ini, &e);
	ck_assert_ptr_null(c);
	ck_assert(has_msg(&e, "edgelb.ini:2: [global]: line longer than 197"));
	ck_assert_uint_eq(e.n, 1); /* line 3 still parsed, and fine */
	cfg_errors_free(&e);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	TCase *te = tcase_create("errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_file);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_mh_adopt);
	tcase_add_test(tc, test_shutdown_grace);
	tcase_add_test(tc, test_module_key_table);
	tcase_add_test(tc, test_state_round_trip);
	tcase_add_test(tc, test_check_file);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(te, setup, teardown);
	tcase_add_loop_test(te, test_bad_file, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(te, test_missing_file);
	tcase_add_test(te, test_all_errors_reported);
	tcase_add_test(te, test_long_line);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
