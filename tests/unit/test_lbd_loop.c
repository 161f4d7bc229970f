/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd's loop never waits for the dataplane (controlplane/dpclient.c):
 * a stand-in dp.sock, served by a thread of the test, takes 1.5 s to
 * answer STATS_GET; while a /metrics scrape (or a ctl.sock STATS_GET)
 * waits for it, another ctl.sock request is answered within 100 ms, and
 * the slow answer still arrives with the dataplane's counters in it. A
 * dataplane silent for longer than LBD_DP_TIMEOUT_MS is cut and the
 * page answered without its counters; a ctl.sock client slower than the
 * dataplane at a 5000-part dump gets every part in order while the
 * loop goes on answering others; replies that come in another order
 * than the requests (a deferred CONN_GET) each reach their own request;
 * requests waiting for the dataplane are bounded (EBUSY beyond);
 * MODULE_GET lists the module table.
 *
 * The daemon's loop turns on the test's main thread; the clients run on
 * a second thread and record what they saw, checked on the main thread.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <event2/event.h>

#include "daemon.h"
#include "dpclient.h"
#include "http/http.h"
#include "edgelb/lbmsg.h"

#define SLOW_MS	  1500 /* the stand-in's STATS_GET */
#define NCONNS	  5000 /* parts of the stand-in's CONN_GET */
#define PROMPT_MS 100  /* the bound on a request that needs no dp */

static atomic_bool stats_started;
static atomic_int stats_delay_ms = SLOW_MS;
static atomic_bool dp_stop;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the dataplane stand-in ---------------------------------------------- */

static int
h_ok(struct lbmsg_req *req)
{
	(void)req;
	return 0; /* dumps: an empty dataplane */
}

/* One PORT part with one counter, after SLOW_MS. */
static int
h_slow_stats(struct lbmsg_req *req)
{
	struct nl_msg *msg;
	struct nlattr *cnt;

	atomic_store(&stats_started, true);
	usleep((useconds_t)atomic_load(&stats_delay_ms) * 1000);
	msg = lbmsg_req_part(req);
	if (msg == NULL)
		return -ENOMEM;
	nla_put_u8(msg, LB_ATTR_STATS_KIND, LB_STATS_PORT);
	nla_put_string(msg, LB_ATTR_IFNAME, "slow0");
	cnt = nla_nest_start(msg, LB_ATTR_COUNTERS);
	lbmsg_put_counter(msg, "rx_packets_total", 4242);
	nla_nest_end(msg, cnt);
	return lbmsg_req_send(req, msg);
}

/*
 * CONN_GET answered later (as the real dataplane does, in pieces): the
 * request is kept, and the serving thread answers it DEFER_MS later,
 * having answered whatever came meanwhile first.
 */
#define DEFER_MS    300
#define DEFER_PARTS 10
static atomic_bool conn_deferred, conn_started;
static struct {
	int fd;
	struct nlmsghdr hdr;
	uint64_t at;
} deferred = { .fd = -1 };

static int
send_msg(int fd, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int rc =
		send(fd, h, h->nlmsg_len, MSG_NOSIGNAL) == (ssize_t)h->nlmsg_len
			? 0
			: -EIO;

	nlmsg_free(msg);
	return rc;
}

static void
answer_deferred(void)
{
	for (int i = 0; i < DEFER_PARTS; i++) {
		struct nl_msg *msg =
			lbmsg_new(deferred.hdr.nlmsg_type, NLM_F_MULTI);

		nlmsg_hdr(msg)->nlmsg_seq = deferred.hdr.nlmsg_seq;
		nla_put_u16(msg, LB_ATTR_LCORE, (uint16_t)i);
		send_msg(deferred.fd, msg);
	}
	send_msg(deferred.fd, lbmsg_done_msg(&deferred.hdr, 0));
	send_msg(deferred.fd, lbmsg_ack_msg(&deferred.hdr, 0, NULL));
	close(deferred.fd);
	deferred.fd = -1;
}

/* NCONNS parts at once, LCORE numbering them: more than a socket holds. */
static int
h_many_conns(struct lbmsg_req *req)
{
	if (atomic_load(&conn_deferred)) {
		deferred.fd = dup(req->fd);
		deferred.hdr = *req->nlh;
		deferred.at = now_ms() + DEFER_MS;
		atomic_store(&conn_started, true);
		return LBMSG_DEFERRED;
	}
	for (int i = 0; i < NCONNS; i++) {
		struct nl_msg *msg = lbmsg_req_part(req);
		int rc;

		if (msg == NULL)
			return -ENOMEM;
		nla_put_u16(msg, LB_ATTR_LCORE, (uint16_t)i);
		rc = lbmsg_req_send(req, msg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const lbmsg_handler_fn dp_handlers[LB_MSG_MAX + 1] = {
	[LB_MSG_SERVICE_NEW] = h_ok,	  [LB_MSG_SERVICE_GET] = h_ok,
	[LB_MSG_BACKEND_NEW] = h_ok,	  [LB_MSG_LADDR_GET] = h_ok,
	[LB_MSG_CONFIG_GET] = h_ok,	  [LB_MSG_STATS_GET] = h_slow_stats,
	[LB_MSG_CONN_GET] = h_many_conns,
};

static void *
dp_serve(void *arg)
{
	while (!atomic_load(&dp_stop)) {
		lbmsg_server_poll(arg, 20);
		if (deferred.fd >= 0 && now_ms() >= deferred.at)
			answer_deferred();
	}
	return NULL;
}

/* ---- fixture -------------------------------------------------------------- */

static char dir[32], ctl_path[96];
static struct lbmsg_server *dp;
static pthread_t dp_thread;
static struct lbd d;
static uint16_t metrics_port;

static void
setup(void)
{
	char path[96];
	struct cfg *c;
	struct cfg_service s;
	struct cfg_backend b = { .port = 80, .weight = 1 };

	snprintf(dir, sizeof(dir), "/tmp/lbd_loop.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dp.sock", dir);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
	dp = lbmsg_server_open(path, 0600, -1, dp_handlers, NULL);
	ck_assert_ptr_nonnull(dp);
	atomic_store(&dp_stop, false);
	atomic_store(&stats_started, false);
	atomic_store(&stats_delay_ms, SLOW_MS);
	atomic_store(&conn_deferred, false);
	atomic_store(&conn_started, false);
	ck_assert_int_eq(pthread_create(&dp_thread, NULL, dp_serve, dp), 0);

	c = cfg_new(NULL, 0);
	ck_assert_ptr_nonnull(c);
	snprintf(c->dp_socket, sizeof(c->dp_socket), "%s", path);
	snprintf(c->ctl_socket, sizeof(c->ctl_socket), "%s", ctl_path);
	c->metrics_enabled = true;
	ck_assert_int_eq(lb_addr_parse("127.0.0.1", &c->metrics_addr), 0);
	c->metrics_port = 0;
	c->reconcile_ms = 0;
	cfg_service_init(&s);
	s.proto = IPPROTO_TCP;
	s.mode = LB_MODE_DR;
	s.vport = 80;
	snprintf(s.name, sizeof(s.name), "web");
	ck_assert_int_eq(lb_addr_parse("10.100.0.1", &s.vip), 0);
	ck_assert_int_eq(lb_addr_parse("10.101.0.1", &b.addr), 0);
	ck_assert_int_eq(cfg_backend_add(&s, &b), 0);
	ck_assert_int_eq(cfg_service_add(c, &s), 0);
	cfg_service_release(&s);
	ck_assert_int_eq(lbd_init(&d, "-", c), 0);
	metrics_port = http_server_port(d.metrics_http);
	ck_assert_uint_ne(metrics_port, 0);
}

static void
teardown(void)
{
	char path[96];

	lbd_fini(&d);
	atomic_store(&dp_stop, true);
	pthread_join(dp_thread, NULL);
	lbmsg_server_close(dp);
	snprintf(path, sizeof(path), "%s/dp.sock", dir);
	unlink(path);
	unlink(ctl_path);
	rmdir(dir);
}

/* ---- the clients (second thread) ------------------------------------------ */

struct seen {
	atomic_bool done;
	bool started;  /* the stand-in got STATS_GET in time */
	int prompt_rc; /* the quick ctl.sock request */
	unsigned int prompt_parts;
	uint64_t prompt_ms;
	int slow_rc; /* the request that waited for the dp */
	uint64_t slow_ms;
	bool slow_has_counter; /* its answer carries the dp's counter */
	bool dp_gone;	       /* the page says edgelbd_dataplane_connected 0 */
};

static int
count_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	(void)nlh;
	(void)tb;
	(*(unsigned int *)arg)++;
	return 0;
}

/* The STATS_GET part of kind PORT with 4242 in it. */
static int
find_counter(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct nlattr *pos;
	int rem;

	(void)nlh;
	if (tb[LB_ATTR_STATS_KIND] == NULL || tb[LB_ATTR_COUNTERS] == NULL ||
	    nla_get_u8(tb[LB_ATTR_STATS_KIND]) != LB_STATS_PORT)
		return 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
		struct nlattr *rc[LB_ATTR_MAX + 1];

		if (lbmsg_parse_record(pos, rc) == 0 &&
		    rc[LB_ATTR_CNT_VALUE] != NULL &&
		    nla_get_u64(rc[LB_ATTR_CNT_VALUE]) == 4242)
			*(bool *)arg = true;
	}
	return 0;
}

/* Wait (bounded) until the stand-in is inside its slow STATS_GET. */
static bool
wait_started(void)
{
	for (int i = 0; i < 300 && !atomic_load(&stats_started); i++)
		usleep(10 * 1000);
	return atomic_load(&stats_started);
}

/* SERVICE_GET on ctl.sock: answered from the desired state alone. */
static void
prompt_request(struct seen *sn)
{
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 3000);
	struct nl_msg *msg = lbmsg_new(LB_MSG_SERVICE_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];
	uint64_t t0;

	sn->prompt_rc = -EIO;
	if (c == NULL || msg == NULL)
		goto out;
	t0 = now_ms();
	sn->prompt_rc = lbmsg_client_request(
		c, msg, count_part, &sn->prompt_parts, err, sizeof(err));
	sn->prompt_ms = now_ms() - t0;
out:
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
}

static void *
scrape_client(void *arg)
{
	struct seen *sn = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(metrics_port) };
	static const char get[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n"
				  "Connection: close\r\n\r\n";
	char *page = calloc(1, 1 << 20);
	size_t len = 0;
	uint64_t t0 = now_ms();
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sn->slow_rc = -EIO;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (page == NULL || fd < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, get, sizeof(get) - 1) != (ssize_t)(sizeof(get) - 1))
		goto out;
	sn->started = wait_started();
	if (sn->started)
		prompt_request(sn);
	/* now the scrape's answer, which waited for the dataplane */
	while (len < (1u << 20) - 1 && now_ms() - t0 < 5000) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, page + len, (1u << 20) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	sn->slow_ms = now_ms() - t0;
	sn->slow_rc = strncmp(page, "HTTP/1.1 200", 12) == 0 ? 0 : -EPROTO;
	sn->slow_has_counter =
		strstr(page, "edgelb_dp_port_rx_packets_total{port=\"slow0\"} "
			     "4242") != NULL;
	sn->dp_gone = strstr(page, "\nedgelbd_dataplane_connected 0\n") != NULL;
out:
	if (fd >= 0)
		close(fd);
	free(page);
	atomic_store(&sn->done, true);
	return NULL;
}

static void *
stats_client(void *arg)
{
	struct seen *sn = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 5000);
	struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];
	uint64_t t0 = now_ms();

	sn->slow_rc = -EIO;
	if (c == NULL || msg == NULL)
		goto out;
	sn->slow_rc = lbmsg_client_request(
		c, msg, find_counter, &sn->slow_has_counter, err, sizeof(err));
	sn->slow_ms = now_ms() - t0;
out:
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	atomic_store(&sn->done, true);
	return NULL;
}

/* A second ctl.sock client, started once the stats request is in the dp. */
static void *
prompt_client(void *arg)
{
	struct seen *sn = arg;

	sn->started = wait_started();
	if (sn->started)
		prompt_request(sn);
	return NULL;
}

/* Turn the daemon's loop until the clients are done (10 s at most). */
static void
run_until(struct seen *sn)
{
	uint64_t end = now_ms() + 10000;

	while (!atomic_load(&sn->done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_msg(atomic_load(&sn->done), "clients not done in 10 s");
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_metrics_scrape_waits_alone)
{
	struct seen sn = { 0 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, scrape_client, &sn), 0);
	run_until(&sn);
	pthread_join(t, NULL);
	ck_assert_msg(sn.started, "the dataplane never got STATS_GET");
	ck_assert_int_eq(sn.prompt_rc, 0);
	ck_assert_uint_eq(sn.prompt_parts, 1);
	ck_assert_msg(sn.prompt_ms < PROMPT_MS,
		      "ctl.sock answered in %llu ms while /metrics waited "
		      "for the dataplane",
		      (unsigned long long)sn.prompt_ms);
	ck_assert_int_eq(sn.slow_rc, 0);
	ck_assert_msg(sn.slow_has_counter,
		      "the scrape lacks the dataplane's counter");
	ck_assert_uint_ge(sn.slow_ms, SLOW_MS - 100);
}
END_TEST

START_TEST(test_ctl_stats_waits_alone)
{
	struct seen sn = { 0 };
	pthread_t t1, t2;

	ck_assert_int_eq(pthread_create(&t1, NULL, stats_client, &sn), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, prompt_client, &sn), 0);
	run_until(&sn);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_msg(sn.started, "the dataplane never got STATS_GET");
	ck_assert_int_eq(sn.prompt_rc, 0);
	ck_assert_uint_eq(sn.prompt_parts, 1);
	ck_assert_msg(sn.prompt_ms < PROMPT_MS,
		      "SERVICE_GET answered in %llu ms while STATS_GET "
		      "waited for the dataplane",
		      (unsigned long long)sn.prompt_ms);
	ck_assert_int_eq(sn.slow_rc, 0);
	ck_assert_msg(sn.slow_has_counter,
		      "STATS_GET lacks the dataplane's part");
	ck_assert_uint_ge(sn.slow_ms, SLOW_MS - 100);
}
END_TEST

/* MODULE_GET with the daemon's own table: push is still reserved. */
struct modules_seen {
	atomic_bool done;
	int rc;
	char names[8][16];
	int states[8];
	unsigned int n;
};

static int
module_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct modules_seen *ms = arg;

	(void)nlh;
	if (ms->n < 8 && tb[LB_ATTR_NAME] != NULL &&
	    tb[LB_ATTR_STATE] != NULL) {
		snprintf(ms->names[ms->n], sizeof(ms->names[0]), "%s",
			 nla_get_string(tb[LB_ATTR_NAME]));
		ms->states[ms->n++] = nla_get_u8(tb[LB_ATTR_STATE]);
	}
	return 0;
}

static void *
modules_client(void *arg)
{
	struct modules_seen *ms = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 3000);
	struct nl_msg *msg = lbmsg_new(LB_MSG_MODULE_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];

	ms->rc = -EIO;
	if (c != NULL && msg != NULL)
		ms->rc = lbmsg_client_request(c, msg, module_part, ms, err,
					      sizeof(err));
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	atomic_store(&ms->done, true);
	return NULL;
}

START_TEST(test_module_list)
{
	static const char *const names[] = {
		"httpdns", "gateway",	  "route",     "upstream", "filter",
		"push",	   "push_vendor", "partition", "bgp"
	};
	struct modules_seen ms = { 0 };
	uint64_t end = now_ms() + 10000;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, modules_client, &ms), 0);
	while (!atomic_load(&ms.done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(t, NULL);
	ck_assert_int_eq(ms.rc, 0);
	ck_assert_uint_eq(ms.n, 8);
	for (unsigned int i = 0; i < 8; i++) {
		ck_assert_str_eq(ms.names[i], names[i]);
		ck_assert_int_eq(ms.states[i], LB_MODULE_RUNNING);
	}
}
END_TEST

/*
 * MODULE_CMD is dispatched by NAME to the module's ctl_cmd hook: an
 * unknown module, a module without commands, a reserved one, and the
 * gateway's hook itself (no [gateway] api_db here) each answer with their
 * errno and a text.
 */
struct cmds_seen {
	atomic_bool done;
	int rc[4];
	char err[4][LBMSG_ERRMSG_MAX];
};

static void *
cmds_client(void *arg)
{
	static const char *const mods[] = { "nosuch", "httpdns", "push",
					    "gateway" };
	struct cmds_seen *cs = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 3000);

	for (int i = 0; i < 4; i++) {
		struct nl_msg *m = lbmsg_new(LB_MSG_MODULE_CMD, 0);

		cs->rc[i] = -EIO;
		if (c != NULL && m != NULL &&
		    nla_put_string(m, LB_ATTR_NAME, mods[i]) == 0 &&
		    nla_put_string(m, LB_ATTR_MOD_CMD, "api.list") == 0)
			cs->rc[i] = lbmsg_client_request(c, m, NULL, NULL,
							 cs->err[i],
							 sizeof(cs->err[i]));
		if (m != NULL)
			nlmsg_free(m);
	}
	lbmsg_client_close(c);
	atomic_store(&cs->done, true);
	return NULL;
}

START_TEST(test_module_cmd)
{
	struct cmds_seen cs = { 0 };
	uint64_t end = now_ms() + 10000;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, cmds_client, &cs), 0);
	while (!atomic_load(&cs.done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(t, NULL);
	ck_assert_int_eq(cs.rc[0], -ENOENT);
	ck_assert_str_eq(cs.err[0], "no module 'nosuch'");
	ck_assert_int_eq(cs.rc[1], -EOPNOTSUPP);
	ck_assert_str_eq(cs.err[1], "module httpdns takes no commands");
	ck_assert_int_eq(cs.rc[2], -ENOTCONN); /* no [push] listeners here */
	ck_assert_int_eq(cs.rc[3], -EOPNOTSUPP);
	ck_assert_str_eq(cs.err[3], "no API store: set [gateway] api_db");
}
END_TEST

/*
 * ctl.sock edits go through the common lbmsg record decoders
 * (lbmsg_get_svc_attrs, lbmsg_get_backend): every attribute lands in the
 * desired state, and a backend weight above LB_WEIGHT_MAX is refused.
 */
struct edits_seen {
	int rc[3];
	atomic_bool done;
};

static struct nl_msg *
edit_msg(uint16_t type, struct lb_addr *vip)
{
	struct nl_msg *m = lbmsg_new(type, 0);

	if (m != NULL && lbmsg_put_svc_key(m, IPPROTO_TCP, vip, 443) < 0) {
		nlmsg_free(m);
		m = NULL;
	}
	return m;
}

static void *
edits_client(void *arg)
{
	struct edits_seen *es = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 3000);
	struct lbmsg_svc_attrs a = { .name = "edited",
				     .mode = LB_MODE_NAT,
				     .sched = "mh",
				     .persist = 300,
				     .mh_size = 65537 };
	struct lbmsg_backend b = { .present = LBMSG_BE_WEIGHT,
				   .port = 8443,
				   .weight = 7 };
	char err[LBMSG_ERRMSG_MAX];
	struct nlattr *list, *rec;
	struct lb_addr vip;
	struct nl_msg *m;

	for (int i = 0; i < 3; i++)
		es->rc[i] = -EIO;
	if (c == NULL || lb_addr_parse("10.200.0.1", &vip) < 0 ||
	    lb_addr_parse("10.201.0.1", &b.addr) < 0)
		goto out;
	/* a service with its attributes and one backend of weight 7 */
	m = edit_msg(LB_MSG_SERVICE_NEW, &vip);
	if (m != NULL && lbmsg_put_svc_attrs(m, &a) == 0 &&
	    (list = nla_nest_start(m, LB_ATTR_BACKENDS)) != NULL &&
	    (rec = nla_nest_start(m, LB_ATTR_BACKEND)) != NULL &&
	    lbmsg_put_backend(m, &b) == 0) {
		nla_nest_end(m, rec);
		nla_nest_end(m, list);
		es->rc[0] = lbmsg_client_request(c, m, NULL, NULL, err,
						 sizeof(err));
	}
	nlmsg_free(m);
	/* a second backend of weight 9, then one above the maximum */
	for (int i = 1; i < 3; i++) {
		b.addr.v4 = htonl(0x0ac90000u + (uint32_t)i + 1);
		b.weight = i == 1 ? 9 : LB_WEIGHT_MAX + 1;
		m = edit_msg(LB_MSG_BACKEND_NEW, &vip);
		if (m != NULL && lbmsg_put_backend(m, &b) == 0)
			es->rc[i] = lbmsg_client_request(c, m, NULL, NULL, err,
							 sizeof(err));
		nlmsg_free(m);
	}
out:
	lbmsg_client_close(c);
	atomic_store(&es->done, true);
	return NULL;
}

START_TEST(test_ctl_edits_decoded)
{
	struct edits_seen es = { 0 };
	const struct cfg_service *s;
	uint64_t end = now_ms() + 10000;
	struct lb_addr vip;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, edits_client, &es), 0);
	while (!atomic_load(&es.done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(t, NULL);
	ck_assert_int_eq(es.rc[0], 0);
	ck_assert_int_eq(es.rc[1], 0);
	ck_assert_int_eq(es.rc[2], -ERANGE);
	ck_assert_int_eq(lb_addr_parse("10.200.0.1", &vip), 0);
	s = cfg_service_find_key(d.cfg, IPPROTO_TCP, &vip, 443);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "edited");
	ck_assert_uint_eq(s->mode, LB_MODE_NAT);
	ck_assert_str_eq(s->sched, "mh");
	ck_assert_uint_eq(s->persist, 300);
	ck_assert_uint_eq(s->mh_size, 65537);
	ck_assert_uint_eq(s->nbackends, 2);
	ck_assert_uint_eq(s->backends[0].port, 8443);
	ck_assert_uint_eq(s->backends[0].weight, 7);
	ck_assert_uint_eq(s->backends[1].weight, 9);
}
END_TEST

START_TEST(test_dataplane_silent_is_cut)
{
	struct seen sn = { 0 };
	pthread_t t;

	/* longer than LBD_DP_TIMEOUT_MS: the request times out */
	atomic_store(&stats_delay_ms, LBD_DP_TIMEOUT_MS + 1000);
	ck_assert_int_eq(pthread_create(&t, NULL, scrape_client, &sn), 0);
	run_until(&sn);
	pthread_join(t, NULL);
	ck_assert(sn.started);
	ck_assert_int_eq(sn.prompt_rc, 0);
	ck_assert_int_eq(sn.slow_rc, 0); /* answered, without dp counters */
	ck_assert(!sn.slow_has_counter);
	ck_assert(sn.dp_gone);
	ck_assert_uint_ge(sn.slow_ms, LBD_DP_TIMEOUT_MS - 100);
	ck_assert_msg(sn.slow_ms < LBD_DP_TIMEOUT_MS + 800,
		      "/metrics answered after %llu ms",
		      (unsigned long long)sn.slow_ms);
}
END_TEST

/* A ctl.sock client slower than the dataplane at a large dump. */
struct dump_seen {
	atomic_bool done;
	int rc;
	unsigned int parts;
	unsigned int out_of_order;
	int prompt_rc;
	uint64_t prompt_ms;
};

static int
conn_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb)
{
	struct dump_seen *ds = arg;

	(void)nlh;
	if (tb[LB_ATTR_LCORE] == NULL ||
	    nla_get_u16(tb[LB_ATTR_LCORE]) != ds->parts)
		ds->out_of_order++;
	ds->parts++;
	if (ds->parts == 1)
		usleep(300 * 1000); /* everyone else's buffers fill */
	return 0;
}

static void *
slow_dump_client(void *arg)
{
	struct dump_seen *ds = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 5000);
	struct nl_msg *msg = lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];

	ds->rc = -EIO;
	if (c != NULL && msg != NULL)
		ds->rc = lbmsg_client_request(c, msg, conn_part, ds, err,
					      sizeof(err));
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	atomic_store(&ds->done, true);
	return NULL;
}

/* While the dump is held for the slow client, ctl.sock still answers. */
static void *
prompt_during_dump(void *arg)
{
	struct dump_seen *ds = arg;
	struct seen sn = { 0 };

	usleep(150 * 1000);
	prompt_request(&sn);
	ds->prompt_rc = sn.prompt_rc;
	ds->prompt_ms = sn.prompt_ms;
	return NULL;
}

START_TEST(test_slow_client_holds_the_dump)
{
	struct dump_seen ds = { 0 };
	uint64_t end = now_ms() + 15000;
	pthread_t t1, t2;

	/* the reconcile at connect first, so that nothing else is queued */
	while (!dpc_connected(d.dpc) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE);
	ck_assert_int_eq(pthread_create(&t1, NULL, slow_dump_client, &ds), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, prompt_during_dump, &ds), 0);
	while (!atomic_load(&ds.done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(ds.rc, 0);
	ck_assert_uint_eq(ds.parts, NCONNS);
	ck_assert_uint_eq(ds.out_of_order, 0);
	ck_assert_int_eq(ds.prompt_rc, 0);
	ck_assert_msg(ds.prompt_ms < PROMPT_MS,
		      "SERVICE_GET answered in %llu ms during a held dump",
		      (unsigned long long)ds.prompt_ms);
}
END_TEST

/* Replies in another order than the requests: each still finds its own. */
struct order_seen {
	atomic_bool done;
	struct dump_seen conns;
	struct seen stats;
	uint64_t stats_ms;
};

static void *
deferred_dump_client(void *arg)
{
	struct order_seen *os = arg;
	struct lbmsg_client *c = lbmsg_client_open(ctl_path, 5000);
	struct nl_msg *msg = lbmsg_new(LB_MSG_CONN_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];

	os->conns.rc = -EIO;
	if (c != NULL && msg != NULL)
		os->conns.rc = lbmsg_client_request(
			c, msg, conn_part, &os->conns, err, sizeof(err));
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	return NULL;
}

static void *
stats_meanwhile(void *arg)
{
	struct order_seen *os = arg;
	struct lbmsg_client *c;
	struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
	char err[LBMSG_ERRMSG_MAX];
	uint64_t t0;

	for (int i = 0; i < 300 && !atomic_load(&conn_started); i++)
		usleep(10 * 1000);
	c = lbmsg_client_open(ctl_path, 5000);
	os->stats.slow_rc = -EIO;
	t0 = now_ms();
	if (c != NULL && msg != NULL && atomic_load(&conn_started))
		os->stats.slow_rc = lbmsg_client_request(
			c, msg, find_counter, &os->stats.slow_has_counter, err,
			sizeof(err));
	os->stats_ms = now_ms() - t0;
	if (msg != NULL)
		nlmsg_free(msg);
	lbmsg_client_close(c);
	return NULL;
}

START_TEST(test_replies_out_of_order)
{
	struct order_seen os = { 0 };
	uint64_t end = now_ms() + 15000;
	pthread_t t1, t2;

	atomic_store(&conn_deferred, true);
	atomic_store(&stats_delay_ms, 0);
	ck_assert_int_eq(pthread_create(&t1, NULL, deferred_dump_client, &os),
			 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, stats_meanwhile, &os), 0);
	/* both threads end within their 5 s timeouts */
	while (now_ms() < end && (pthread_tryjoin_np(t2, NULL) != 0)) {
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	while (now_ms() < end && (pthread_tryjoin_np(t1, NULL) != 0)) {
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	ck_assert_msg(now_ms() < end, "clients not done in 15 s");
	/* STATS_GET was answered while CONN_GET still waited */
	ck_assert_int_eq(os.stats.slow_rc, 0);
	ck_assert(os.stats.slow_has_counter);
	ck_assert_msg(os.stats_ms < DEFER_MS,
		      "STATS_GET took %llu ms behind a deferred CONN_GET",
		      (unsigned long long)os.stats_ms);
	ck_assert_int_eq(os.conns.rc, 0);
	ck_assert_uint_eq(os.conns.parts, DEFER_PARTS);
	ck_assert_uint_eq(os.conns.out_of_order, 0);
	ck_assert(dpc_connected(d.dpc));
}
END_TEST

/*
 * One client pipelines more pass-through requests than ctl.sock keeps
 * waiting for the dataplane (256): the rest are refused at once with
 * EBUSY; the waiting ones end with the dataplane's timeout. Nothing is
 * left unanswered.
 */
#define FLOOD 300

struct flood_seen {
	atomic_bool done;
	unsigned int acks, busy, failed, ok;
};

static void *
flood_client(void *arg)
{
	struct flood_seen *fs = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static uint8_t buf[LBMSG_MAX_SIZE];
	uint64_t end = now_ms() + 8000;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	for (uint32_t i = 1; i <= FLOOD; i++) {
		struct nl_msg *msg = lbmsg_new(LB_MSG_STATS_GET, NLM_F_DUMP);
		struct nlmsghdr *h = nlmsg_hdr(msg);

		h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
		h->nlmsg_seq = i;
		if (send(fd, h, h->nlmsg_len, MSG_NOSIGNAL) < 0)
			i = FLOOD; /* counted as unanswered below */
		nlmsg_free(msg);
	}
	while (fs->acks < FLOOD && now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const struct nlmsghdr *h = (const void *)buf;
		char err[LBMSG_ERRMSG_MAX];
		ssize_t n;
		int rc;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		if (h->nlmsg_type != NLMSG_ERROR)
			continue;
		fs->acks++;
		rc = lbmsg_read_ack(h, (size_t)n, err, sizeof(err));
		if (rc == -EBUSY)
			fs->busy++;
		else if (rc < 0)
			fs->failed++;
		else
			fs->ok++;
	}
out:
	if (fd >= 0)
		close(fd);
	atomic_store(&fs->done, true);
	return NULL;
}

START_TEST(test_pending_bounded)
{
	struct flood_seen fs = { 0 };
	uint64_t end = now_ms() + 15000;
	pthread_t t;

	while (!dpc_connected(d.dpc) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE);
	/* the first STATS_GET holds the stand-in beyond the dp timeout */
	atomic_store(&stats_delay_ms, LBD_DP_TIMEOUT_MS + 1000);
	ck_assert_int_eq(pthread_create(&t, NULL, flood_client, &fs), 0);
	while (!atomic_load(&fs.done) && now_ms() < end)
		event_base_loop(d.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_join(t, NULL);
	ck_assert_uint_eq(fs.acks, FLOOD);
	ck_assert_uint_eq(fs.busy, FLOOD - 256);
	ck_assert_uint_eq(fs.failed, 256); /* the dataplane's timeout */
}
END_TEST

static Suite *
loop_suite(void)
{
	Suite *s = suite_create("lbd_loop");
	TCase *tc = tcase_create("dataplane_slow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_metrics_scrape_waits_alone);
	tcase_add_test(tc, test_ctl_stats_waits_alone);
	tcase_add_test(tc, test_module_list);
	tcase_add_test(tc, test_module_cmd);
	tcase_add_test(tc, test_ctl_edits_decoded);
	tcase_add_test(tc, test_dataplane_silent_is_cut);
	tcase_add_test(tc, test_slow_client_holds_the_dump);
	tcase_add_test(tc, test_replies_out_of_order);
	tcase_add_test(tc, test_pending_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
