/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * svc: the service table through its lbmsg handlers (add, delete, change
 * and dump round trips; every refusal's errno and text), scheduling with
 * quiescent backends, counters and their zeroing, the address set and its
 * callback, size limits, and lock-free reads racing thousands of updates
 * with RCU reclamation.
 *
 * DPDK runs without hugepages or PCI (--no-huge --no-pci --no-shconf), so
 * the suite runs on any machine; each test initialises EAL in its own
 * forked process.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>

#include "edgelb/lbmsg.h"
#include "svc.h"

#define MAXPARTS_INIT 64

/* ---- harness ----------------------------------------------------------- */

static cpu_set_t all_cpus; /* affinity before EAL pinned the main thread */
static bool eal_ready;

static void
eal_up(void)
{
	char *argv[] = { "test_svc",
			 "--no-huge",
			 "-m",
			 "512",
			 "--no-pci",
			 "--no-shconf",
			 "--log-level=*:warning",
			 NULL };
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

	if (eal_ready)
		return;
	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	ck_assert_msg(rte_eal_init(argc, argv) >= 0, "rte_eal_init failed");
	/* let the control thread and the reader run on any CPU */
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	eal_ready = true;
}

/* Parts of a dump, read by a thread while the handler sends them. */
struct dump {
	int fd;
	pthread_t thr;
	unsigned int n, cap;
	struct nlmsghdr **parts;
};

struct ctx {
	struct svc_table *t;
	int sv[2];
	char err[LBMSG_ERRMSG_MAX];
	struct dump d;
};

static struct ctx C;

static void
ctx_open(const struct svc_table_conf *conf)
{
	struct svc_table_conf def = { .nworkers = 2 };

	eal_up();
	memset(&C, 0, sizeof(C));
	C.t = svc_table_create(conf != NULL ? conf : &def);
	ck_assert_msg(C.t != NULL, "svc_table_create: %s", strerror(errno));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, C.sv), 0);
}

static void
dump_clear(struct dump *d)
{
	for (unsigned int i = 0; i < d->n; i++)
		free(d->parts[i]);
	free(d->parts);
	d->parts = NULL;
	d->n = d->cap = 0;
}

static void
ctx_close(void)
{
	dump_clear(&C.d);
	svc_table_destroy(C.t);
	close(C.sv[0]);
	close(C.sv[1]);
	C.t = NULL;
}

static void *
collector(void *arg)
{
	struct dump *d = arg;
	static __thread char buf[LBMSG_MAX_SIZE + 64];

	for (;;) {
		ssize_t n = recv(d->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < (ssize_t)sizeof(*h) || h->nlmsg_type == NLMSG_DONE)
			break;
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : MAXPARTS_INIT;
			d->parts =
				realloc(d->parts, d->cap * sizeof(*d->parts));
		}
		d->parts[d->n] = malloc((size_t)n);
		memcpy(d->parts[d->n++], buf, (size_t)n);
	}
	return NULL;
}

typedef int (*handler_fn)(struct svc_table *t, struct lbmsg_req *req);

/*
 * Run a request through fn (dumps: collect the parts into C.d). Frees m.
 * Returns the handler's result; the text is in C.err.
 */
static int
run_with(struct nl_msg *m, handler_fn fn)
{
	struct nlmsghdr *h = nlmsg_hdr(m), done = { 0 };
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lbmsg_req req = { 0 };
	char perr[256];
	bool dump = (h->nlmsg_flags & NLM_F_DUMP) != 0;
	int rc;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 7;
	rc = lbmsg_parse(h, h->nlmsg_len, tb, perr, sizeof(perr));
	ck_assert_msg(rc == 0, "request does not parse: %s", perr);
	if (dump) {
		dump_clear(&C.d);
		C.d.fd = C.sv[1];
		ck_assert_int_eq(
			pthread_create(&C.d.thr, NULL, collector, &C.d), 0);
	}
	req.nlh = h;
	req.tb = tb;
	req.fd = C.sv[0];
	rc = fn(C.t, &req);
	snprintf(C.err, sizeof(C.err), "%s", req.errmsg);
	if (dump) {
		done.nlmsg_len = sizeof(done);
		done.nlmsg_type = NLMSG_DONE;
		ck_assert_int_eq(send(C.sv[0], &done, sizeof(done), 0),
				 (ssize_t)sizeof(done));
		pthread_join(C.d.thr, NULL);
		ck_assert_uint_eq(C.d.n, req.parts);
	}
	nlmsg_free(m);
	return rc;
}

static int
run(struct nl_msg *m)
{
	return run_with(m, svc_ctrl_handle);
}

/* Expect a refusal with errno e and some text. */
#define ck_refused(m, e)                                                       \
	do {                                                                   \
		int rc_ = run(m);                                              \
		ck_assert_msg(rc_ == (e), "expected %d, got %d (%s)", (e),     \
			      rc_, C.err);                                     \
		ck_assert_msg(C.err[0] != '\0', "refusal without text");       \
	} while (0)

#define ck_ok(m)                                                               \
	do {                                                                   \
		int rc_ = run(m);                                              \
		ck_assert_msg(rc_ == 0, "refused %d: %s", rc_, C.err);         \
	} while (0)

static struct lb_addr
A(const char *s) {
	struct lb_addr a;

	ck_assert_int_eq(lb_addr_parse(s, &a), 0);
	return a;
}

static struct lb_addr *
addr_into(struct lb_addr *a, const char *s)
{
	*a = A(s);
	return a;
}

/* A parsed address living until the end of the enclosing block. */
#define AP(s) addr_into(&(struct lb_addr){ 0 }, (s))

/* A message of type with the key (proto, vip, vport). */
static struct nl_msg *
msg_key(uint16_t type, uint8_t proto, const char *vip, uint16_t vport)
{
	struct nl_msg *m = lbmsg_new(type, 0);
	struct lb_addr a = A(vip);

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(lbmsg_put_svc_key(m, proto, &a, vport), 0);
	return m;
}

static struct nl_msg *
msg_dump(uint16_t type)
{
	struct nl_msg *m = lbmsg_new(type, NLM_F_DUMP);

	ck_assert_ptr_nonnull(m);
	return m;
}

static void
put_addr(struct nl_msg *m, int attr, const char *s)
{
	struct lb_addr a = A(s);

	ck_assert_int_eq(lbmsg_put_addr(m, attr, &a), 0);
}

/* A backend message: key + ADDR + PORT (+ WEIGHT when weight >= 0). */
static struct nl_msg *
msg_backend(uint16_t type, const char *vip, uint16_t vport, const char *addr,
	    uint16_t port, int64_t weight)
{
	struct nl_msg *m = msg_key(type, IPPROTO_TCP, vip, vport);

	put_addr(m, LB_ATTR_ADDR, addr);
	ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, port), 0);
	if (weight >= 0)
		ck_assert_int_eq(
			nla_put_u32(m, LB_ATTR_WEIGHT, (uint32_t)weight), 0);
	return m;
}

/* Append one BACKEND record inside an open BACKENDS nest. */
static void
put_backend_rec(struct nl_msg *m, const struct lb_addr *a, uint16_t port,
		int64_t weight)
{
	struct nlattr *r = nla_nest_start(m, LB_ATTR_BACKEND);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(lbmsg_put_addr(m, LB_ATTR_ADDR, a), 0);
	ck_assert_int_eq(nla_put_u16(m, LB_ATTR_PORT, port), 0);
	if (weight >= 0)
		ck_assert_int_eq(
			nla_put_u32(m, LB_ATTR_WEIGHT, (uint32_t)weight), 0);
	nla_nest_end(m, r);
}

/* Parse dump part i into tb. */
static void
part(unsigned int i, struct nlattr **tb)
{
	char perr[256];

	ck_assert_uint_lt(i, C.d.n);
	ck_assert_msg(lbmsg_parse(C.d.parts[i], C.d.parts[i]->nlmsg_len, tb,
				  perr, sizeof(perr)) == 0,
		      "dump part %u does not parse: %s", i, perr);
	ck_assert(C.d.parts[i]->nlmsg_flags & NLM_F_MULTI);
	ck_assert_uint_eq(C.d.parts[i]->nlmsg_seq, 7);
}

static void
ck_addr(struct nlattr *nla, const char *want)
{
	struct lb_addr a, w = A(want);

	ck_assert_ptr_nonnull(nla);
	ck_assert_int_eq(lbmsg_get_addr(nla, &a), 0);
	ck_assert_msg(lb_addr_equal(&a, &w), "address differs from %s", want);
}

/* Backend records of a BACKENDS list: count, and find one by address. */
static unsigned int
backends_of(struct nlattr **tb, const char *addr, uint16_t port,
	    uint32_t *weight, uint8_t *mode)
{
	struct lb_addr want = { 0 };
	struct nlattr *pos;
	unsigned int n = 0;
	int rem;

	if (addr != NULL)
		want = A(addr);
	if (tb[LB_ATTR_BACKENDS] == NULL)
		return 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem) {
		struct nlattr *r[LB_ATTR_MAX + 1];
		struct lb_addr a;

		ck_assert_int_eq(lbmsg_parse_record(pos, r), 0);
		ck_assert_ptr_nonnull(r[LB_ATTR_ADDR]);
		ck_assert_ptr_nonnull(r[LB_ATTR_PORT]);
		ck_assert_ptr_nonnull(r[LB_ATTR_WEIGHT]);
		ck_assert_ptr_nonnull(r[LB_ATTR_MODE]);
		n++;
		lbmsg_get_addr(r[LB_ATTR_ADDR], &a);
		if (addr != NULL && lb_addr_equal(&a, &want) &&
		    nla_get_u16(r[LB_ATTR_PORT]) == port) {
			*weight = nla_get_u32(r[LB_ATTR_WEIGHT]);
			*mode = nla_get_u8(r[LB_ATTR_MODE]);
		}
	}
	return n;
}

static void
setup_default(void)
{
	ctx_open(NULL);
}

static void
teardown(void)
{
	ctx_close();
}

/* ---- core -------------------------------------------------------------- */

/* SERVICE_NEW with every option and two backends, dumped back. */
static void
new_web(void)
{
	struct nl_msg *m =
		msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	struct lb_addr b1 = A("10.1.0.1"), b2 = A("10.1.0.2");
	struct nlattr *list;

	nla_put_string(m, LB_ATTR_NAME, "web");
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_NAT);
	nla_put_string(m, LB_ATTR_SCHED, "rr");
	nla_put_u32(m, LB_ATTR_PERSIST, 300);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, &b1, 8080, 5);
	put_backend_rec(m, &b2, 8080, -1);
	nla_nest_end(m, list);
	ck_ok(m);
}

START_TEST(service_roundtrip)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	uint32_t w = 99;
	uint8_t mode = 0;
	const struct svc *s;
	struct lb_addr vip = A("10.0.0.1");

	new_web();
	ck_assert_uint_eq(svc_table_count(C.t), 1);
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_PROTO]), IPPROTO_TCP);
	ck_addr(tb[LB_ATTR_VIP], "10.0.0.1");
	ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_VPORT]), 80);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_NAME]), "web");
	ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_MODE]), LB_MODE_NAT);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_SCHED]), "rr");
	ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_PERSIST]), 300);
	ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_SVC_FLAGS]), 0);
	ck_assert_uint_eq(backends_of(tb, "10.1.0.1", 8080, &w, &mode), 2);
	ck_assert_uint_eq(w, 5);
	ck_assert_uint_eq(mode, LB_MODE_NAT);
	backends_of(tb, "10.1.0.2", 8080, &w, &mode);
	ck_assert_uint_eq(w, 1); /* default weight */

	/* the worker's view */
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->magic, SVC_MAGIC_LIVE);
	ck_assert_uint_eq(s->nbackends, 2);
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_UDP, &vip, 80));
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_TCP, &vip, 81));

	/* SERVICE_SET changes only what it carries */
	struct nl_msg *m =
		msg_key(LB_MSG_SERVICE_SET, IPPROTO_TCP, "10.0.0.1", 80);
	nla_put_string(m, LB_ATTR_SCHED, "wrr");
	nla_put_u32(m, LB_ATTR_PERSIST, 0);
	ck_ok(m);
	m = msg_dump(LB_MSG_SERVICE_GET);
	put_addr(m, LB_ATTR_VIP, "10.0.0.1");
	ck_ok(m);
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_SCHED]), "wrr");
	ck_assert_uint_eq(nla_get_u32(tb[LB_ATTR_PERSIST]), 0);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_NAME]), "web");
	ck_assert_uint_eq(backends_of(tb, NULL, 0, NULL, NULL), 2);

	/* defaults: DR and wlc */
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_UDP, "10.0.0.1", 53));
	m = msg_dump(LB_MSG_SERVICE_GET);
	nla_put_u8(m, LB_ATTR_PROTO, IPPROTO_UDP);
	ck_ok(m);
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_MODE]), LB_MODE_DR);
	ck_assert_str_eq(nla_get_string(tb[LB_ATTR_SCHED]), "wlc");
	ck_assert_ptr_null(tb[LB_ATTR_NAME]);
	ck_assert_uint_eq(backends_of(tb, NULL, 0, NULL, NULL), 0);

	/* delete; the dump no longer has it */
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 80));
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_VPORT]), 53);
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_TCP, &vip, 80));
	ck_ok(lbmsg_new(LB_MSG_SERVICE_FLUSH, 0));
	ck_assert_uint_eq(svc_table_count(C.t), 0);
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	ck_assert_uint_eq(C.d.n, 0);
}
END_TEST

START_TEST(backend_roundtrip)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lb_addr b1 = A("10.1.0.1"), b2 = A("10.1.0.2"),
		       b3 = A("10.1.0.3");
	struct nl_msg *m;
	unsigned int i, seen = 0;

	new_web();
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.3", 8080,
			  7));
	ck_ok(msg_backend(LB_MSG_BACKEND_SET, "10.0.0.1", 80, "10.1.0.1", 8080,
			  0));
	/* a second service whose backends the filter must leave out */
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80));
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.2", 80, "10.9.0.1", 80,
			  -1));

	m = msg_key(LB_MSG_BACKEND_GET, IPPROTO_TCP, "10.0.0.1", 80);
	nlmsg_hdr(m)->nlmsg_flags |= NLM_F_DUMP;
	ck_ok(m);
	ck_assert_uint_eq(C.d.n, 3);
	for (i = 0; i < C.d.n; i++) {
		struct lb_addr a;
		uint32_t w;

		part(i, tb);
		ck_addr(tb[LB_ATTR_VIP], "10.0.0.1");
		ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_PORT]), 8080);
		ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_MODE]), LB_MODE_NAT);
		lbmsg_get_addr(tb[LB_ATTR_ADDR], &a);
		w = nla_get_u32(tb[LB_ATTR_WEIGHT]);
		if (lb_addr_equal(&a, &b1)) {
			ck_assert_uint_eq(w, 0);
			seen |= 1;
		} else if (lb_addr_equal(&a, &b2)) {
			ck_assert_uint_eq(w, 1);
			seen |= 2;
		} else if (lb_addr_equal(&a, &b3)) {
			ck_assert_uint_eq(w, 7);
			seen |= 4;
		}
	}
	ck_assert_uint_eq(seen, 7);

	/* unfiltered: all four */
	ck_ok(msg_dump(LB_MSG_BACKEND_GET));
	ck_assert_uint_eq(C.d.n, 4);

	ck_ok(msg_backend(LB_MSG_BACKEND_DEL, "10.0.0.1", 80, "10.1.0.2", 8080,
			  -1));
	m = msg_key(LB_MSG_BACKEND_GET, IPPROTO_TCP, "10.0.0.1", 80);
	nlmsg_hdr(m)->nlmsg_flags |= NLM_F_DUMP;
	ck_ok(m);
	ck_assert_uint_eq(C.d.n, 2);
	ck_assert_uint_eq(
		svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80)->nbackends, 2);
	/* SERVICE_SET with BACKENDS replaces the list; those that stay keep
	 * their slot (and counters) */
	const struct svc *s = svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80);
	uint32_t slot3 = s->backends[1].slot;
	struct nlattr *list;

	ck_assert(lb_addr_equal(&s->backends[1].addr, &b3));
	m = msg_key(LB_MSG_SERVICE_SET, IPPROTO_TCP, "10.0.0.1", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, AP("10.1.0.4"), 8080, 2);
	put_backend_rec(m, &b3, 8080, 6);
	nla_nest_end(m, list);
	ck_ok(m);
	s = svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80);
	ck_assert_uint_eq(s->nbackends, 2);
	ck_assert(lb_addr_equal(&s->backends[1].addr, &b3));
	ck_assert_uint_eq(s->backends[1].slot, slot3);
	ck_assert_uint_eq(s->backends[1].weight, 6);
	ck_assert_uint_ne(s->backends[0].slot, slot3);

	/* the backend filter */
	m = msg_dump(LB_MSG_BACKEND_GET);
	put_addr(m, LB_ATTR_ADDR, "10.9.0.1");
	ck_ok(m);
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_addr(tb[LB_ATTR_VIP], "10.0.0.2");
}
END_TEST

START_TEST(any_port_fallback)
{
	struct lb_addr vip = A("10.0.0.5");
	const struct svc *s;

	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.5", 0));
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.6"), 443));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 443);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->vport, 0);
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.5", 443));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 443);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->vport, 443); /* the exact one wins */
	ck_assert_uint_eq(svc_lookup(C.t, IPPROTO_TCP, &vip, 22)->vport, 0);
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_UDP, &vip, 22));
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.5", 0));
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_TCP, &vip, 22));
	ck_assert_ptr_nonnull(svc_lookup(C.t, IPPROTO_TCP, &vip, 443));
}
END_TEST

START_TEST(ipv6_service)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lb_addr vip = A("2001:db8::1");
	struct nl_msg *m;

	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "2001:db8::1", 443));
	m = msg_backend(LB_MSG_BACKEND_NEW, "2001:db8::1", 443,
			"2001:db8:1::10", 8443, 3);
	ck_ok(m);
	ck_assert_ptr_nonnull(svc_lookup(C.t, IPPROTO_TCP, &vip, 443));
	ck_assert(svc_addr_is_ours(C.t, &vip));
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	part(0, tb);
	ck_addr(tb[LB_ATTR_VIP], "2001:db8::1");
	ck_assert_uint_eq(backends_of(tb, NULL, 0, NULL, NULL), 1);
}
END_TEST

START_TEST(laddr_roundtrip)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct nl_msg *m;

	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_FNAT);
	nla_put_u32(m, LB_ATTR_SVC_FLAGS, LB_SVC_F_TOA);
	ck_ok(m);
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	put_addr(m, LB_ATTR_ADDR, "192.168.100.1");
	ck_ok(m);
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	put_addr(m, LB_ATTR_ADDR, "192.168.100.2");
	ck_ok(m);
	ck_assert(svc_addr_is_ours(C.t, AP("192.168.100.2")));
	ck_ok(msg_dump(LB_MSG_LADDR_GET));
	ck_assert_uint_eq(C.d.n, 2);
	part(0, tb);
	ck_addr(tb[LB_ATTR_ADDR], "192.168.100.1");
	ck_addr(tb[LB_ATTR_VIP], "10.0.0.1");
	part(1, tb);
	ck_addr(tb[LB_ATTR_ADDR], "192.168.100.2");

	m = msg_key(LB_MSG_LADDR_DEL, IPPROTO_TCP, "10.0.0.1", 80);
	put_addr(m, LB_ATTR_ADDR, "192.168.100.1");
	ck_ok(m);
	ck_assert(!svc_addr_is_ours(C.t, AP("192.168.100.1")));
	ck_ok(msg_dump(LB_MSG_LADDR_GET));
	ck_assert_uint_eq(C.d.n, 1);
	ck_assert_uint_eq(
		svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80)->nladdrs, 1);

	/* leaving fnat while local addresses remain is refused */
	m = msg_key(LB_MSG_SERVICE_SET, IPPROTO_TCP, "10.0.0.1", 80);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_NAT);
	nla_put_u32(m, LB_ATTR_SVC_FLAGS, 0);
	ck_refused(m, -EINVAL);
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 80));
	ck_assert(!svc_addr_is_ours(C.t, AP("192.168.100.2")));
}
END_TEST

/* A service of n backends, backend i of weight w[i]. */
static void
svc_with(const char *sched, const uint32_t *w, unsigned int n)
{
	struct nl_msg *m =
		msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.9", 80);
	struct nlattr *list;

	nla_put_string(m, LB_ATTR_SCHED, sched);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (unsigned int i = 0; i < n; i++) {
		struct lb_addr a = A("10.7.0.0");

		a.bytes[3] = (uint8_t)(i + 1);
		put_backend_rec(m, &a, 80, w[i]);
	}
	nla_nest_end(m, list);
	ck_ok(m);
}

static const char *const scheds[] = { "rr", "wrr", "lc", "wlc",
				      "sh", "mh",  "lrt" };

START_TEST(quiescent_never_scheduled)
{
	const uint32_t w[4] = { 3, 0, 1, 2 }, zero[2] = { 0, 0 };
	const char *name = scheds[_i];
	struct lb_addr vip = A("10.0.0.9");
	unsigned int hits[4] = { 0 };
	const struct svc *s;

	svc_with(name, w, 4);
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_ptr_nonnull(s);
	for (uint32_t i = 0; i < 4000; i++) {
		struct sched_flow f = { .saddr = A("100.64.0.0"),
					.daddr = vip,
					.sport = (uint16_t)(1024 + i),
					.dport = 80,
					.proto = IPPROTO_TCP };
		const struct svc_backend *b;

		f.saddr.v4 += i * 7919u;
		b = svc_schedule(s, i % 2, &f, NULL);
		ck_assert_msg(b != NULL, "%s: no backend", name);
		ck_assert(b >= s->backends && b < s->backends + 4);
		ck_assert_msg(b->weight > 0, "%s picked a quiescent backend",
			      name);
		hits[b - s->backends]++;
	}
	ck_assert_uint_eq(hits[1], 0);
	ck_assert_uint_gt(hits[0] + hits[2] + hits[3], 0);

	/* every backend quiescent: nothing */
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.9", 80));
	svc_with(name, zero, 2);
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_ptr_null(svc_schedule(s, 0, &(struct sched_flow){ 0 }, NULL));
	/* a weight change to 0 takes effect on the next version */
	ck_ok(msg_backend(LB_MSG_BACKEND_SET, "10.0.0.9", 80, "10.7.0.1", 80,
			  4));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_uint_eq(
		svc_schedule(s, 0, &(struct sched_flow){ 0 }, NULL)->weight, 4);
}
END_TEST

START_TEST(counters_and_zero)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct lb_addr vip = A("10.0.0.1");
	const struct svc *s;
	uint32_t bslot;

	new_web();
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	bslot = s->backends[0].slot;
	for (unsigned int w = 0; w < 2; w++) {
		struct svc_counters *c = svc_counters(C.t, w, s->slot);
		struct svc_counters *b = svc_backend_counters(C.t, w, bslot);

		c->conns += 10 + w;
		c->pkts_in += 100;
		c->bytes_out += 1000;
		c->active += 2;
		b->conns += 3;
		b->inactive += 1;
	}
	/* a new version keeps the counters: slots are stable */
	ck_ok(msg_backend(LB_MSG_BACKEND_SET, "10.0.0.1", 80, "10.1.0.1", 8080,
			  9));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_uint_eq(s->backends[0].slot, bslot);
	ck_assert_uint_eq(s->backends[0].weight, 9);

	uint64_t v[2][8] = { { 0 } };
	const char *names[7] = { "conns_total",	      "packets_in_total",
				 "packets_out_total", "bytes_in_total",
				 "bytes_out_total",   "active_conns",
				 "inactive_conns" };

	for (int round = 0; round < 2; round++) {
		unsigned int i, nsvc = 0, nbe = 0;

		ck_assert_int_eq(
			run_with(msg_dump(LB_MSG_STATS_GET), svc_stats_dump),
			0);
		ck_assert_uint_eq(C.d.n, 3); /* service + 2 backends */
		for (i = 0; i < C.d.n; i++) {
			struct nlattr *pos;
			int rem, k = -1;
			uint8_t kind;

			part(i, tb);
			kind = nla_get_u8(tb[LB_ATTR_STATS_KIND]);
			ck_addr(tb[LB_ATTR_VIP], "10.0.0.1");
			if (kind == LB_STATS_SERVICE) {
				nsvc++;
				k = 0;
				ck_assert_str_eq(
					nla_get_string(tb[LB_ATTR_NAME]),
					"web");
			} else {
				struct lb_addr a;

				ck_assert_uint_eq(kind, LB_STATS_BACKEND);
				nbe++;
				lbmsg_get_addr(tb[LB_ATTR_ADDR], &a);
				if (lb_addr_equal(&a, &s->backends[0].addr))
					k = 1;
			}
			if (k < 0)
				continue;
			lbmsg_list_for_each (pos, tb[LB_ATTR_COUNTERS], rem) {
				struct nlattr *r[LB_ATTR_MAX + 1];

				lbmsg_parse_record(pos, r);
				for (int j = 0; j < 7; j++)
					if (!strcmp(nla_get_string(
							    r[LB_ATTR_CNT_NAME]),
						    names[j]))
						v[k][j] = nla_get_u64(
							r[LB_ATTR_CNT_VALUE]);
			}
		}
		ck_assert_uint_eq(nsvc, 1);
		ck_assert_uint_eq(nbe, 2);
		if (round == 0) {
			ck_assert_uint_eq(v[0][0], 21); /* summed workers */
			ck_assert_uint_eq(v[0][1], 200);
			ck_assert_uint_eq(v[0][4], 2000);
			ck_assert_uint_eq(v[0][5], 4);
			ck_assert_uint_eq(v[1][0], 6);
			ck_assert_uint_eq(v[1][6], 2);
			svc_stats_zero(C.t);
		} else {
			ck_assert_uint_eq(v[0][0], 0);
			ck_assert_uint_eq(v[0][1], 0);
			ck_assert_uint_eq(v[0][4], 0);
			ck_assert_uint_eq(v[0][5], 4); /* gauges stay */
			ck_assert_uint_eq(v[1][0], 0);
			ck_assert_uint_eq(v[1][6], 2);
		}
	}
	/* STATS_KIND selects one kind; other kinds are not ours to send */
	struct nl_msg *m = msg_dump(LB_MSG_STATS_GET);

	nla_put_u8(m, LB_ATTR_STATS_KIND, LB_STATS_BACKEND);
	ck_assert_int_eq(run_with(m, svc_stats_dump), 0);
	ck_assert_uint_eq(C.d.n, 2);
	m = msg_dump(LB_MSG_STATS_GET);
	nla_put_u8(m, LB_ATTR_STATS_KIND, LB_STATS_PORT);
	ck_assert_int_eq(run_with(m, svc_stats_dump), 0);
	ck_assert_uint_eq(C.d.n, 0);
	/* one backend by its address */
	m = msg_dump(LB_MSG_STATS_GET);
	put_addr(m, LB_ATTR_ADDR, "10.1.0.2");
	ck_assert_int_eq(run_with(m, svc_stats_dump), 0);
	ck_assert_uint_eq(C.d.n, 1);
	part(0, tb);
	ck_assert_uint_eq(nla_get_u8(tb[LB_ATTR_STATS_KIND]), LB_STATS_BACKEND);
	ck_addr(tb[LB_ATTR_ADDR], "10.1.0.2");
}
END_TEST

/* ---- address set ------------------------------------------------------- */

struct addr_ev {
	int added, removed;
	struct lb_addr last;
};

static void
addr_cb(void *arg, const struct lb_addr *a, bool added)
{
	struct addr_ev *ev = arg;

	if (added)
		ev->added++;
	else
		ev->removed++;
	ev->last = *a;
}

START_TEST(addr_refcounts)
{
	struct addr_ev ev = { 0 };
	struct lb_addr vip = A("10.0.0.1");
	struct nl_msg *m;

	svc_table_set_addr_cb(C.t, addr_cb, &ev);
	ck_assert(!svc_addr_is_ours(C.t, &vip));
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80));
	ck_assert_int_eq(ev.added, 1);
	ck_assert(lb_addr_equal(&ev.last, &vip));
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 443));
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_UDP, "10.0.0.1", 53));
	ck_assert_int_eq(ev.added, 1); /* shared VIP: no new event */
	ck_assert(svc_addr_is_ours(C.t, &vip));
	/* a refused change leaves no trace */
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80),
		   -EEXIST);
	ck_assert_int_eq(ev.added, 1);

	/* local address equal to another service's VIP shares the count */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_FNAT);
	ck_ok(m);
	ck_assert_int_eq(ev.added, 2);
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	put_addr(m, LB_ATTR_ADDR, "10.0.0.1");
	ck_ok(m);
	ck_assert_int_eq(ev.added, 2);

	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 80));
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 443));
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_UDP, "10.0.0.1", 53));
	ck_assert_int_eq(ev.removed, 0); /* still a local address */
	ck_assert(svc_addr_is_ours(C.t, &vip));
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.2", 80));
	ck_assert_int_eq(ev.removed, 2);
	ck_assert(!svc_addr_is_ours(C.t, &vip));
	ck_assert(!svc_addr_is_ours(C.t, AP("10.0.0.2")));
	svc_table_reclaim(C.t);

	/* back again: a new first reference */
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80));
	ck_assert_int_eq(ev.added, 3);
	ck_assert(svc_addr_is_ours(C.t, &vip));
}
END_TEST

/* ---- errors ------------------------------------------------------------ */

START_TEST(err_unknown_scheduler)
{
	struct nl_msg *m =
		msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80);

	nla_put_string(m, LB_ATTR_SCHED, "fastest");
	ck_refused(m, -EINVAL);
	ck_assert_ptr_nonnull(strstr(C.err, "fastest"));
	ck_assert_ptr_nonnull(strstr(C.err, "wrr"));
	ck_assert_uint_eq(svc_table_count(C.t), 0);
	new_web();
	m = msg_key(LB_MSG_SERVICE_SET, IPPROTO_TCP, "10.0.0.1", 80);
	nla_put_string(m, LB_ATTR_SCHED, "nope");
	ck_refused(m, -EINVAL);
	ck_assert_str_eq(
		svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80)->sched->name,
		"rr");
}
END_TEST

START_TEST(err_exists_and_missing)
{
	new_web();
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80),
		   -EEXIST);
	ck_refused(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 81),
		   -ENOENT);
	ck_refused(msg_key(LB_MSG_SERVICE_SET, IPPROTO_UDP, "10.0.0.1", 80),
		   -ENOENT);
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.3", 80, "10.1.0.1",
			       80, -1),
		   -ENOENT);
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.1",
			       8080, -1),
		   -EEXIST);
	ck_refused(msg_backend(LB_MSG_BACKEND_DEL, "10.0.0.1", 80, "10.1.0.1",
			       8081, -1),
		   -ENOENT);
	ck_refused(msg_backend(LB_MSG_BACKEND_SET, "10.0.0.1", 80, "10.1.0.9",
			       8080, 3),
		   -ENOENT);
	struct nl_msg *m =
		msg_key(LB_MSG_LADDR_DEL, IPPROTO_TCP, "10.0.0.1", 80);
	put_addr(m, LB_ATTR_ADDR, "10.5.5.5");
	ck_refused(m, -ENOENT);
	m = msg_key(LB_MSG_SERVICE_GET, IPPROTO_TCP, "10.0.0.1", 81);
	nlmsg_hdr(m)->nlmsg_flags |= NLM_F_DUMP;
	ck_refused(m, -ENOENT);
	ck_assert_uint_eq(svc_table_count(C.t), 1);
}
END_TEST

START_TEST(err_values)
{
	struct lb_addr b6 = A("2001:db8::5"), b4 = A("10.1.0.1");
	struct nlattr *list;
	struct nl_msg *m;

	new_web();
	/* weight */
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.7",
			       80, LB_WEIGHT_MAX + 1),
		   -ERANGE);
	ck_refused(msg_backend(LB_MSG_BACKEND_SET, "10.0.0.1", 80, "10.1.0.1",
			       8080, 1u << 20),
		   -ERANGE);
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, &b4, 80, 70000);
	nla_nest_end(m, list);
	ck_refused(m, -ERANGE);
	/* family */
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80,
			       "2001:db8::5", 80, -1),
		   -EAFNOSUPPORT);
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, &b4, 80, 1);
	put_backend_rec(m, &b6, 80, 1);
	nla_nest_end(m, list);
	ck_refused(m, -EAFNOSUPPORT);
	/* a backend listed twice */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, &b4, 80, 1);
	put_backend_rec(m, &b4, 80, 2);
	nla_nest_end(m, list);
	ck_refused(m, -EEXIST);
	/* protocol */
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_ICMP, "10.0.0.2", 0),
		   -EPROTONOSUPPORT);
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, 132 /* sctp */, "10.0.0.2", 80),
		   -EPROTONOSUPPORT);
	/* modes and flags */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	nla_put_u8(m, LB_ATTR_MODE, 9);
	ck_refused(m, -EINVAL);
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	nla_put_u32(m, LB_ATTR_SVC_FLAGS, 1u << 30);
	ck_refused(m, -EINVAL);
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	nla_put_u32(m, LB_ATTR_SVC_FLAGS, LB_SVC_F_TOA); /* DR: no TOA */
	ck_refused(m, -EINVAL);
	m = msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.8", 80, -1);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_DR); /* service is NAT */
	ck_refused(m, -EINVAL);
	/* local address on a non-fnat service */
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	put_addr(m, LB_ATTR_ADDR, "192.168.1.1");
	ck_refused(m, -EINVAL);
	ck_assert_ptr_nonnull(strstr(C.err, "fnat"));
	/* local address of the other family */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.3", 80);
	nla_put_u8(m, LB_ATTR_MODE, LB_MODE_FNAT);
	ck_ok(m);
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.3", 80);
	put_addr(m, LB_ATTR_ADDR, "2001:db8::9");
	ck_refused(m, -EAFNOSUPPORT);
	/* maglev size that is not prime */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.4", 80);
	nla_put_string(m, LB_ATTR_SCHED, "mh");
	nla_put_u32(m, LB_ATTR_MH_SIZE, 1000);
	ck_refused(m, -EINVAL);

	/* nothing of the refused requests stayed */
	ck_assert_uint_eq(svc_table_count(C.t), 2);
	ck_assert_uint_eq(
		svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80)->nbackends, 2);
	ck_assert(!svc_addr_is_ours(C.t, AP("10.0.0.2")));
	ck_assert(!svc_addr_is_ours(C.t, AP("10.0.0.4")));
}
END_TEST

START_TEST(err_services_full)
{
	struct svc_table_conf conf = { .nworkers = 1, .max_services = 4 };
	struct svc_table_stats st;

	ctx_close();
	ctx_open(&conf);
	for (uint16_t p = 1; p <= 4; p++)
		ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", p));
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 5),
		   -ENOSPC);
	ck_assert_ptr_nonnull(strstr(C.err, "full"));
	/* a deleted service's slot comes back (after its grace period) */
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 2));
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 5));
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(svc_table_count(C.t), 4);
}
END_TEST

START_TEST(err_backends_full)
{
	struct svc_table_conf conf = { .nworkers = 1, .max_backends = 8 };
	struct svc_table_stats st;
	struct nlattr *list;
	struct nl_msg *m;

	ctx_close();
	ctx_open(&conf);
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (unsigned int i = 0; i < 6; i++) {
		struct lb_addr a = A("10.1.0.0");

		a.bytes[3] = (uint8_t)(i + 1);
		put_backend_rec(m, &a, 80, 1);
	}
	nla_nest_end(m, list);
	ck_ok(m);
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.1.1", 80,
			  1));
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.1.2", 80,
			  1));
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.1.3",
			       80, 1),
		   -ENOSPC);
	/* a service with two backends does not fit either, and is not made */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.2", 80);
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	put_backend_rec(m, AP("10.2.0.1"), 80, 1);
	put_backend_rec(m, AP("10.2.0.2"), 80, 1);
	nla_nest_end(m, list);
	ck_refused(m, -ENOSPC);
	ck_assert_uint_eq(svc_table_count(C.t), 1);
	ck_assert(!svc_addr_is_ours(C.t, AP("10.0.0.2")));
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(st.backends, 8);
	/* deleting one makes room (its slot after the grace period) */
	ck_ok(msg_backend(LB_MSG_BACKEND_DEL, "10.0.0.1", 80, "10.1.0.1", 80,
			  -1));
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.1.3", 80,
			  1));
	/* a backend whose conns are still counted keeps its slot */
	const struct svc *s = svc_lookup(C.t, IPPROTO_TCP, AP("10.0.0.1"), 80);
	svc_backend_counters(C.t, 0, s->backends[0].slot)->refs = 1;
	ck_ok(msg_backend(LB_MSG_BACKEND_DEL, "10.0.0.1", 80, "10.1.0.2", 80,
			  -1));
	svc_table_reclaim(C.t);
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(st.draining, 1);
	ck_refused(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.1.4",
			       80, 1),
		   -ENOSPC);
}
END_TEST

/*
 * A worker moving a conn between the gauges writes two counters (-1 on one,
 * +1 on the other). A release check that runs between the two stores must
 * not see the backend idle: the slot would go to a new backend, which then
 * inherits the +1 (and later the conn's -1).
 */
START_TEST(slot_release_mid_move)
{
	struct svc_table_conf conf = { .nworkers = 1, .max_backends = 4 };
	struct lb_addr vip = A("10.0.0.1");
	struct svc_table_stats st;
	struct svc_counters *bc, *sc;
	const struct svc *s;
	uint32_t old;

	ctx_close();
	ctx_open(&conf);
	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80));
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.1", 80,
			  1));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	old = s->backends[0].slot;
	sc = svc_counters(C.t, 0, s->slot);
	bc = svc_backend_counters(C.t, 0, old);
	/* the worker opens a conn (inactive), then starts moving it to
	 * active: the -1 is written, the +1 not yet */
	svc_gauge_open(sc, bc);
	bc->inactive -= 1;
	sc->inactive -= 1;
	ck_ok(msg_backend(LB_MSG_BACKEND_DEL, "10.0.0.1", 80, "10.1.0.1", 80,
			  -1));
	svc_table_reclaim(C.t);
	svc_table_reclaim(C.t);
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(st.draining, 1);
	ck_ok(msg_backend(LB_MSG_BACKEND_NEW, "10.0.0.1", 80, "10.1.0.2", 80,
			  1));
	s = svc_lookup(C.t, IPPROTO_TCP, &vip, 80);
	ck_assert_uint_ne(s->backends[0].slot, old);
	/* the worker finishes the move, the conn ends: the slot frees */
	bc->active += 1;
	sc->active += 1;
	svc_gauge_close(sc, bc, true);
	svc_table_reclaim(C.t);
	svc_table_reclaim(C.t);
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(st.draining, 0);
	bc = svc_backend_counters(C.t, 0, s->backends[0].slot);
	ck_assert_uint_eq(bc->active, 0);
	ck_assert_uint_eq(bc->inactive, 0);
}
END_TEST

START_TEST(err_laddrs_full)
{
	struct svc_table_conf conf = { .nworkers = 1, .max_laddrs = 3 };
	struct nl_msg *m;

	ctx_close();
	ctx_open(&conf);
	for (uint16_t p = 1; p <= 2; p++) {
		m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", p);
		nla_put_u8(m, LB_ATTR_MODE, LB_MODE_FNAT);
		ck_ok(m);
	}
	for (unsigned int i = 0; i < 3; i++) {
		struct lb_addr a = A("192.168.0.1");

		a.bytes[3] = (uint8_t)(1 + i);
		m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1",
			    (uint16_t)(1 + i % 2));
		lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
		ck_ok(m);
	}
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 2);
	put_addr(m, LB_ATTR_ADDR, "192.168.0.9");
	ck_refused(m, -ENOSPC);
	ck_assert(!svc_addr_is_ours(C.t, AP("192.168.0.9")));
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 1);
	put_addr(m, LB_ATTR_ADDR, "192.168.0.1");
	ck_refused(m, -EEXIST);
	/* deleting a service gives its local addresses back */
	ck_ok(msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", 1));
	m = msg_key(LB_MSG_LADDR_NEW, IPPROTO_TCP, "10.0.0.1", 2);
	put_addr(m, LB_ATTR_ADDR, "192.168.0.9");
	ck_ok(m);
}
END_TEST

/* ---- limits ------------------------------------------------------------ */

START_TEST(scale_65536_services)
{
	struct svc_table_conf conf = { .nworkers = 1 }; /* defaults */
	struct lb_addr vip = A("10.0.0.1");
	struct svc_table_stats st;
	uint32_t p;

	ctx_close();
	ctx_open(&conf);
	for (p = 0; p < 65536; p++) {
		struct nl_msg *m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP,
					   "10.0.0.1", (uint16_t)p);

		nla_put_string(m, LB_ATTR_SCHED, "rr");
		ck_ok(m);
	}
	ck_assert_uint_eq(svc_table_count(C.t), 65536);
	for (p = 0; p < 65536; p++) {
		const struct svc *s =
			svc_lookup(C.t, IPPROTO_TCP, &vip, (uint16_t)p);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_eq(s->vport, p);
	}
	ck_assert_ptr_null(svc_lookup(C.t, IPPROTO_UDP, &vip, 80));
	ck_refused(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_UDP, "10.0.0.1", 80),
		   -ENOSPC);
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	ck_assert_uint_eq(C.d.n, 65536);
	ck_ok(lbmsg_new(LB_MSG_SERVICE_FLUSH, 0));
	ck_assert_uint_eq(svc_table_count(C.t), 0);
	ck_assert(!svc_addr_is_ours(C.t, &vip));
	svc_table_reclaim(C.t);
	svc_table_get_stats(C.t, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.freed, 65536);
}
END_TEST

/* A service with more backends than one message holds is split. */
START_TEST(large_service_dump)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	const unsigned int n = 5000;
	unsigned int total = 0, i;
	char *seen = calloc(n, 1);

	ck_ok(msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", 80));
	for (i = 0; i < n; i++) {
		struct nl_msg *m = msg_key(LB_MSG_BACKEND_NEW, IPPROTO_TCP,
					   "10.0.0.1", 80);
		struct lb_addr a = A("10.0.0.0");

		a.bytes[2] = (uint8_t)(i >> 8);
		a.bytes[3] = (uint8_t)i;
		a.bytes[1] = 50;
		lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
		nla_put_u16(m, LB_ATTR_PORT, 80);
		ck_ok(m);
	}
	ck_ok(msg_dump(LB_MSG_SERVICE_GET));
	ck_assert_uint_gt(C.d.n, 1);
	for (unsigned int p = 0; p < C.d.n; p++) {
		struct nlattr *pos;
		int rem;

		part(p, tb);
		ck_assert_uint_eq(nla_get_u16(tb[LB_ATTR_VPORT]), 80);
		lbmsg_list_for_each (pos, tb[LB_ATTR_BACKENDS], rem) {
			struct nlattr *r[LB_ATTR_MAX + 1];
			struct lb_addr a;

			lbmsg_parse_record(pos, r);
			lbmsg_get_addr(r[LB_ATTR_ADDR], &a);
			i = (unsigned int)a.bytes[2] << 8 | a.bytes[3];
			ck_assert_uint_lt(i, n);
			ck_assert_msg(!seen[i], "backend %u sent twice", i);
			seen[i] = 1;
			total++;
		}
	}
	ck_assert_uint_eq(total, n);
	free(seen);
}
END_TEST

/* ---- rcu --------------------------------------------------------------- */

#define RCU_NSVC 4
#define RCU_MAXB 12
#define RCU_OPS	 6000

struct reader {
	struct svc_table *t;
	volatile bool stop;
	uint64_t loops, seen, picks, bad;
	char why[160];
};

static void
bad(struct reader *r, const char *why, const struct svc *s)
{
	if (r->bad++ == 0)
		snprintf(r->why, sizeof(r->why), "%s (vport %u persist %u)",
			 why, s->vport, s->persist);
}

/*
 * Invariants every published version keeps: it is alive; its name is
 * "g<persist>"; every backend's port carries the generation in its high
 * byte; nbackends within bounds; the scheduler picks one of its own,
 * non-quiescent backends.
 */
static void
check_version(struct reader *r, const struct svc *s, uint32_t i)
{
	char name[24];

	if (s->magic != SVC_MAGIC_LIVE) {
		bad(r, "version freed under a reader", s);
		return;
	}
	snprintf(name, sizeof(name), "g%u", s->persist);
	if (strcmp(name, s->name) != 0)
		bad(r, "name and persist disagree", s);
	if (s->nbackends > RCU_MAXB || (s->nbackends && !s->backends))
		bad(r, "nbackends", s);
	for (uint32_t j = 0; j < s->nbackends; j++) {
		const struct svc_backend *b = &s->backends[j];

		if ((b->port >> 8) != (s->persist & 0xff) ||
		    b->weight > LB_WEIGHT_MAX || b->mode != s->mode)
			bad(r, "backend of another generation", s);
	}
	struct sched_flow f = { .saddr = s->vip,
				.daddr = s->vip,
				.sport = (uint16_t)i,
				.dport = s->vport,
				.proto = IPPROTO_TCP };
	const struct svc_backend *b = svc_schedule(s, 0, &f, NULL);

	if (b != NULL) {
		r->picks++;
		if (b < s->backends || b >= s->backends + s->nbackends ||
		    b->weight == 0)
			bad(r, "scheduled a foreign or quiescent backend", s);
		svc_backend_counters(r->t, 0, b->slot)->conns++;
	}
	svc_counters(r->t, 0, s->slot)->pkts_in++;
	if (s->magic != SVC_MAGIC_LIVE)
		bad(r, "version freed while being read", s);
}

static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	struct lb_addr vip = A("10.0.0.1");
	uint32_t i = 0;

	svc_worker_online(r->t, 0);
	while (!r->stop) {
		/* services are recreated one at a time: the shared VIP stays */
		if (!svc_addr_is_ours(r->t, &vip))
			bad(r, "VIP vanished from the address set",
			    &(struct svc){ 0 });
		for (uint16_t p = 1; p <= RCU_NSVC; p++) {
			const struct svc *s =
				svc_lookup(r->t, IPPROTO_TCP, &vip, p);

			if (s == NULL)
				continue;
			r->seen++;
			check_version(r, s, i++);
		}
		r->loops++;
		svc_worker_quiescent(r->t, 0);
	}
	svc_worker_offline(r->t, 0);
	return NULL;
}

/* Recreate service vport p as generation gen with nb backends. */
static void
recreate(uint16_t p, uint32_t gen, unsigned int nb)
{
	struct nl_msg *m;
	struct nlattr *list;
	char name[24];

	m = msg_key(LB_MSG_SERVICE_DEL, IPPROTO_TCP, "10.0.0.1", p);
	run(m); /* may be absent */
	m = msg_key(LB_MSG_SERVICE_NEW, IPPROTO_TCP, "10.0.0.1", p);
	snprintf(name, sizeof(name), "g%u", gen);
	nla_put_string(m, LB_ATTR_NAME, name);
	nla_put_u32(m, LB_ATTR_PERSIST, gen);
	nla_put_string(m, LB_ATTR_SCHED, gen % 2 ? "wrr" : "rr");
	list = nla_nest_start(m, LB_ATTR_BACKENDS);
	for (unsigned int j = 0; j < nb; j++) {
		struct lb_addr a = A("10.2.0.0");

		a.bytes[3] = (uint8_t)j;
		put_backend_rec(m, &a, (uint16_t)((gen & 0xff) << 8 | j),
				j % 3);
	}
	nla_nest_end(m, list);
	ck_ok(m);
}

/* _i = 1: a backend table just big enough for the live backends, so
 * that changes must wait for grace periods to reuse slots. */
START_TEST(rcu_concurrent_reader)
{
	struct svc_table_conf conf = {
		.nworkers = 1,
		.max_backends = _i ? RCU_NSVC * RCU_MAXB : 0,
	};
	struct reader r = { 0 };
	struct svc_table_stats st;
	struct lb_addr vip = A("10.0.0.1");
	pthread_attr_t attr;
	pthread_t thr;
	uint32_t gen = 1, seed = 12345;

	ctx_close();
	ctx_open(&conf);
	r.t = C.t;
	for (uint16_t p = 1; p <= RCU_NSVC; p++)
		recreate(p, gen++, 4);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(all_cpus), &all_cpus);
	ck_assert_int_eq(pthread_create(&thr, &attr, reader_main, &r), 0);

	for (unsigned int op = 0; op < RCU_OPS; op++) {
		uint16_t p;
		const struct svc *s;
		unsigned int kind;

		seed = seed * 1103515245u + 12345u;
		p = (uint16_t)(1 + (seed >> 8) % RCU_NSVC);
		kind = (seed >> 16) % 6;
		s = svc_lookup(C.t, IPPROTO_TCP, &vip, p); /* writer's view */
		if (s == NULL || kind == 0) {
			recreate(p, gen++, (seed >> 20) % (RCU_MAXB / 2));
		} else if (kind == 1 && s->nbackends < RCU_MAXB) {
			struct lb_addr a = A("10.3.0.0");
			struct nl_msg *m;

			a.bytes[2] = (uint8_t)(op >> 8);
			a.bytes[3] = (uint8_t)op;
			m = msg_key(LB_MSG_BACKEND_NEW, IPPROTO_TCP, "10.0.0.1",
				    p);
			lbmsg_put_addr(m, LB_ATTR_ADDR, &a);
			nla_put_u16(m, LB_ATTR_PORT,
				    (uint16_t)((s->persist & 0xff) << 8 | 99));
			nla_put_u32(m, LB_ATTR_WEIGHT, op % 5);
			ck_ok(m);
		} else if (kind == 2 && s->nbackends > 0) {
			const struct svc_backend *b =
				&s->backends[(seed >> 4) % s->nbackends];
			struct nl_msg *m = msg_key(LB_MSG_BACKEND_DEL,
						   IPPROTO_TCP, "10.0.0.1", p);

			lbmsg_put_addr(m, LB_ATTR_ADDR, &b->addr);
			nla_put_u16(m, LB_ATTR_PORT, b->port);
			ck_ok(m);
		} else if (kind == 3 && s->nbackends > 0) {
			const struct svc_backend *b =
				&s->backends[(seed >> 4) % s->nbackends];
			struct nl_msg *m = msg_key(LB_MSG_BACKEND_SET,
						   IPPROTO_TCP, "10.0.0.1", p);

			lbmsg_put_addr(m, LB_ATTR_ADDR, &b->addr);
			nla_put_u16(m, LB_ATTR_PORT, b->port);
			nla_put_u32(m, LB_ATTR_WEIGHT, (b->weight + 1) % 4);
			ck_ok(m);
		} else {
			struct nl_msg *m = msg_key(LB_MSG_SERVICE_SET,
						   IPPROTO_TCP, "10.0.0.1", p);

			nla_put_string(m, LB_ATTR_SCHED,
				       scheds[(seed >> 3) % 4]);
			ck_ok(m);
		}
		if (op % (_i ? 256 : 8) == 0)
			svc_table_reclaim(C.t);
	}
	r.stop = true;
	pthread_join(thr, NULL);
	pthread_attr_destroy(&attr);
	svc_table_reclaim(C.t);
	svc_table_get_stats(C.t, &st);
	ck_assert_msg(r.bad == 0, "%" PRIu64 " inconsistencies, first: %s",
		      r.bad, r.why);
	ck_assert_uint_gt(r.loops, 100);
	ck_assert_uint_gt(r.seen, 100);
	ck_assert_uint_gt(r.picks, 0);
	ck_assert_uint_ge(st.published, RCU_OPS / 2);
	ck_assert_uint_gt(st.freed, 0);
	ck_assert_uint_eq(st.pending, 0); /* reader offline: all freed */
	ck_assert_uint_eq(st.freed, st.retired);
	if (_i == 1)
		ck_assert_uint_gt(st.sync_waits, 0);
	fprintf(stderr,
		"rcu: %" PRIu64 " reader loops, %" PRIu64
		" versions seen, %" PRIu64 " published, %" PRIu64
		" freed, %" PRIu64 " sync waits\n",
		r.loops, r.seen, st.published, st.freed, st.sync_waits);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *
svc_suite(void)
{
	Suite *s = suite_create("svc");
	TCase *core = tcase_create("core");
	TCase *errors = tcase_create("errors");
	TCase *limits = tcase_create("limits");
	TCase *rcu = tcase_create("rcu");

	tcase_add_checked_fixture(core, setup_default, teardown);
	tcase_add_test(core, service_roundtrip);
	tcase_add_test(core, backend_roundtrip);
	tcase_add_test(core, any_port_fallback);
	tcase_add_test(core, ipv6_service);
	tcase_add_test(core, laddr_roundtrip);
	tcase_add_loop_test(core, quiescent_never_scheduled, 0,
			    (int)(sizeof(scheds) / sizeof(scheds[0])));
	tcase_add_test(core, counters_and_zero);
	tcase_add_test(core, addr_refcounts);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(errors, setup_default, teardown);
	tcase_add_test(errors, err_unknown_scheduler);
	tcase_add_test(errors, err_exists_and_missing);
	tcase_add_test(errors, err_values);
	tcase_add_test(errors, err_services_full);
	tcase_add_test(errors, err_backends_full);
	tcase_add_test(errors, slot_release_mid_move);
	tcase_add_test(errors, err_laddrs_full);
	suite_add_tcase(s, errors);

	tcase_add_checked_fixture(limits, setup_default, teardown);
	tcase_set_timeout(limits, 120);
	tcase_add_test(limits, scale_65536_services);
	tcase_add_test(limits, large_service_dump);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(rcu, setup_default, teardown);
	tcase_set_timeout(rcu, 120);
	tcase_add_loop_test(rcu, rcu_concurrent_reader, 0, 2);
	suite_add_tcase(s, rcu);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(svc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
