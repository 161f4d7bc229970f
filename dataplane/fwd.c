/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The forwarding stage, per packet: the burst lookup, new connections
 * (scheduling, templates, the mode's conn_init), the reply path, the
 * handoff between workers, counters and gauges, the per-iteration poll.
 * Set-up is fwd_setup.c, the RSS view fwd_rss.c, the helpers the modes
 * share fwd_mode.c, ICMP errors fwd_icmp.c. See fwd.h.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "edgelb/log.h"
#include "fwd.h"
#include "neigh.h"
#include "svc.h"
#include "dp_tx.h"

static const struct fwd_mode_ops *const modes[LB_MODE_MAX + 1] = {
	[LB_MODE_DR] = &fwd_dr_ops,
	[LB_MODE_NAT] = &fwd_nat_ops,
	[LB_MODE_TUNNEL] = &fwd_tun_ops,
	[LB_MODE_FNAT] = &fwd_fnat_ops,
};

static uint32_t
now_us(const struct fwd_worker *fw)
{
	return (uint32_t)(rte_rdtsc() / fw->fwd->tsc_per_us);
}

/* ---- counters ------------------------------------------------------------- */

enum gauge_op { GAUGE_OPEN, GAUGE_MOVE, GAUGE_CLOSE };

static void
gauge(struct fwd_worker *fw, const struct conn *c, enum gauge_op op)
{
	struct svc_table *t = fw->fwd->dp->svc;
	struct svc_counters *sc = svc_counters(t, fw->index, c->svc_slot);
	struct svc_counters *bc = svc_backend_counters(t, fw->index, c->bslot);

	if (op == GAUGE_OPEN)
		svc_gauge_open(sc, bc);
	else if (op == GAUGE_CLOSE)
		svc_gauge_close(sc, bc, c->flags & CONN_F_ACTIVE);
	else
		svc_gauge_move(sc, bc, !(c->flags & CONN_F_ACTIVE));
}

/* Move c between the active and inactive gauges after a state change. */
static void
gauge_state(struct fwd_worker *fw, struct conn *c)
{
	bool active = c->proto == IPPROTO_TCP && c->state == CONN_S_ESTABLISHED;

	if (active == !!(c->flags & CONN_F_ACTIVE))
		return;
	gauge(fw, c, GAUGE_MOVE);
	c->flags ^= CONN_F_ACTIVE;
}

static void
count(struct fwd_worker *fw, const struct conn *c, unsigned int dir,
      uint32_t bytes)
{
	struct svc_table *t = fw->fwd->dp->svc;
	struct svc_counters *sc = svc_counters(t, fw->index, c->svc_slot);
	struct svc_counters *bc = svc_backend_counters(t, fw->index, c->bslot);

	if (dir == CONN_DIR_IN) {
		sc->pkts_in++;
		sc->bytes_in += bytes;
		bc->pkts_in++;
		bc->bytes_in += bytes;
	} else {
		sc->pkts_out++;
		sc->bytes_out += bytes;
		bc->pkts_out++;
		bc->bytes_out += bytes;
	}
}

void
fwd_conn_unlink(void *arg, struct conn *c)
{
	struct fwd_worker *fw = arg;
	const struct fwd_mode_ops *ops = modes[c->mode];

	gauge(fw, c, GAUGE_CLOSE);
	if (c->flags & CONN_F_SP)
		synproxy_release(&fw->fwd->dp->workers[fw->index], &fw->sp, c);
	if (ops != NULL && ops->conn_release != NULL)
		ops->conn_release(fw, c);
}

/* ---- handoff between workers ---------------------------------------------- */

static void
handoff(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	unsigned int owner)
{
	struct fwd_worker *to = &w->dp->fwd->w[owner];

	m->hash.usr = port;
	if (rte_ring_mp_enqueue(to->handoff, m) != 0) {
		dp_worker_drop(w, m, DP_DROP_HANDOFF_FULL);
		return;
	}
	fwd_worker_of(w)->handoff_out++;
}

/*
 * Which worker owns the connection whose out tuple is k (a reply that
 * arrived on port), or -1 if nobody is known to.
 */
static int
owner_of(struct dp_worker *w, const struct conn_key *k, uint16_t port)
{
	struct fwd *f = w->dp->fwd;
	struct lb_addr a = { .family = AF_INET, .v4 = k->daddr };
	void *d;
	int q;

	if (svc_addr_is_ours(w->dp->svc, &a)) {
		/* FULL-NAT: the local port decides, as when it was chosen */
		q = fwd_rss_queue(&f->rss[port], k->proto, k->saddr, k->daddr,
				  k->sport, k->dport);
		if (q >= 0)
			return q;
		if (rte_be_to_cpu_16(k->dport) < FWD_LPORT_MIN)
			return -1;
		return (int)((rte_be_to_cpu_16(k->dport) - FWD_LPORT_MIN) %
			     f->nworkers);
	}
	if (rte_hash_lookup_data(f->nat_rev, k, &d) < 0)
		return -1;
	return (int)(uintptr_t)d - 1;
}

/* ---- the reply path --------------------------------------------------------- */

/*
 * Track a TCP segment of c with len payload bytes. False when it must be
 * dropped: an RST outside the window of sequence numbers seen from its
 * side (a blind one). Another segment outside it is passed on (a stack
 * answers it, or it is an old retransmission) without a state change.
 */
static bool
tcp_track(struct fwd_worker *fw, struct conn *c, unsigned int dir,
	  const struct rte_tcp_hdr *th, uint32_t len)
{
	uint8_t before = c->state;

	if (!conn_tcp_seq(c, dir, th->tcp_flags, rte_be_to_cpu_32(th->sent_seq),
			  len)) {
		if (th->tcp_flags & RTE_TCP_RST_FLAG)
			return false;
		conn_touch(fw->ct, c);
		return true;
	}
	conn_tcp_event(fw->ct, c, dir, th->tcp_flags);
	if (dir == CONN_DIR_OUT && (c->flags & CONN_F_RTT) &&
	    (th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
		    (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG) &&
	    c->bslot < fw->fwd->dp->conf.max_backends) {
		uint32_t rtt = now_us(fw) - c->t_syn,
			 *r = &fw->rtt_us[c->bslot];

		*r = *r == 0 ? rtt : (*r * 7 + rtt) / 8;
		c->flags &= (uint16_t)~CONN_F_RTT;
	}
	if (c->state != before)
		gauge_state(fw, c);
	return true;
}

static void conn_xmit(struct dp_worker *w, struct rte_mbuf *m,
		      const struct pkt_info *pi, struct conn *c,
		      unsigned int dir);

/*
 * A segment of c, opened by the SYN proxy, before its backend completed
 * (synproxy.h): true when m goes on as usual, false when it was taken
 * (held, dropped, or a backend's SYN-ACK answered).
 */
static bool
sp_handshake(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	     struct conn *c, unsigned int dir)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	struct conn_sp *sp = conn_sp(fw->ct, c);
	struct rte_mbuf *ack, *held;
	struct pkt_info api, hpi;
	struct rte_tcp_hdr *th;
	enum dp_drop why;
	bool kept;

	if (dir == CONN_DIR_IN) {
		why = synproxy_pending(w, &fw->sp, c, m, pi, &kept);
		if (why != DP_PASS)
			dp_worker_drop(w, m, why);
		return why == DP_PASS && !kept;
	}
	why = synproxy_backend(w, &fw->sp, sp, c, m, pi, &ack, &api, &held,
			       &hpi);
	if (why != DP_PASS) {
		dp_worker_drop(w, m, why);
		return false;
	}
	if (ack == NULL)
		return true; /* the backend's RST, for the client */
	th = pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len);
	tcp_track(fw, c, dir, th, 0);
	if (c->flags & CONN_F_PP) {
		/* as fwd_fnat.c takes it from a SYN-ACK that passes */
		c->pp_seq = rte_be_to_cpu_32(th->recv_ack);
		c->flags = (uint16_t)((c->flags & ~CONN_F_RTT) | CONN_F_PP_SEQ);
	}
	count(fw, c, dir, pi->ip_len);
	rte_pktmbuf_free(m);
	conn_xmit(w, ack, &api, c, CONN_DIR_IN);
	if (held != NULL)
		conn_xmit(w, held, &hpi, c, CONN_DIR_IN);
	return false;
}

/* A packet of c in direction dir: track, count, send. Consumes m. */
static void
conn_xmit(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	  struct conn *c, unsigned int dir)
{
	struct fwd_worker *fw = fwd_worker_of(w);

	if ((c->flags & (CONN_F_SP | CONN_F_SP_DONE)) == CONN_F_SP &&
	    !sp_handshake(w, m, pi, c, dir))
		return;
	if (c->proto != IPPROTO_TCP) {
		conn_touch(fw->ct, c);
	} else if (!tcp_track(
			   fw, c, dir,
			   pkt_at(m, struct rte_tcp_hdr *,
				  pi->l2_len + pi->l3_len),
			   (uint32_t)(pi->ip_len - pi->l3_len - pi->l4_len))) {
		dp_worker_drop(w, m, DP_DROP_RST_OUT_OF_WINDOW);
		return;
	}
	if (c->flags & CONN_F_SP_DONE)
		synproxy_shift(conn_sp(fw->ct, c), m, pi, dir);
	count(fw, c, dir, pi->ip_len);
	modes[c->mode]->xmit(fw, w, m, pi, c, dir);
}

static void
key_from(struct conn_key *k, const struct pkt_info *pi)
{
	memset(k, 0, sizeof(*k));
	k->saddr = pi->saddr;
	k->daddr = pi->daddr;
	k->sport = rte_cpu_to_be_16(pi->sport);
	k->dport = rte_cpu_to_be_16(pi->dport);
	k->proto = pi->proto;
}

/* The connection of a TCP/UDP packet's own tuple k (key_from(pi)). */
static struct conn *
find(struct fwd_worker *fw, const struct conn_key *k, const struct pkt_info *pi,
     unsigned int *dir)
{
	struct conn_hint h = { .d = pi->hint, .gen = pi->hint_gen };

	if (pi->flags & PKT_F_HINT)
		return conn_lookup_hint(fw->ct, k, &h, dir);
	return conn_lookup(fw->ct, k, dir);
}

static_assert(DP_BURST <= CONN_BULK_MAX, "a burst is one bulk lookup");

void
fwd_prepare(struct dp_worker *w, struct pkt_info *pi, uint16_t n)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	struct conn_key keys[DP_BURST];
	const struct conn_key *kp[DP_BURST];
	struct conn_hint h[DP_BURST];
	uint16_t at[DP_BURST];
	unsigned int m = 0;

	for (uint16_t i = 0; i < n && i < DP_BURST; i++) {
		if (pi[i].l3 != PKT_L3_IPV4 || !(pi[i].flags & PKT_F_L4) ||
		    (pi[i].proto != IPPROTO_TCP && pi[i].proto != IPPROTO_UDP))
			continue;
		key_from(&keys[m], &pi[i]);
		kp[m] = &keys[m];
		at[m++] = i;
	}
	conn_lookup_bulk(fw->ct, kp, m, h);
	for (unsigned int j = 0; j < m; j++) {
		pi[at[j]].hint = h[j].d;
		pi[at[j]].hint_gen = h[j].gen;
		pi[at[j]].flags |= PKT_F_HINT;
		if ((uintptr_t)h[j].d & CONN_DIR_OUT)
			pi[at[j]].flags |= PKT_F_REPLY;
	}
}

/*
 * An ICMP error about c, in direction dir: DR and TUNNEL backends answer
 * clients directly, so one from the backend side goes on unchanged;
 * otherwise it is translated for the other side. Consumes m.
 */
static void
icmp_error_xmit(struct dp_worker *w, struct rte_mbuf *m,
		const struct pkt_info *pi, struct conn *c, unsigned int dir)
{
	struct fwd_worker *fw = fwd_worker_of(w);

	if (dir == CONN_DIR_IN && !modes[c->mode]->replies) {
		/* DR/TUNNEL: the backend sent to the client; pass it on */
		modes[c->mode]->xmit(fw, w, m, pi, c, CONN_DIR_IN);
		return;
	}
	count(fw, c, dir, pi->ip_len);
	fwd_icmp_error_xmit(w, m, pi, c, dir);
}

static bool
reply_input(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	    const struct pkt_info *pi, bool may_handoff)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	enum dp_drop why;
	struct conn_key k;
	unsigned int dir;
	struct conn *c;
	int owner, rc;

	if (pi->proto == IPPROTO_ICMP) {
		rc = fwd_icmp_error_key(m, pi, &k, &why);
		if (rc == -EBADMSG) {
			dp_worker_drop(w, m, why);
			return true;
		}
		if (rc < 0)
			return false;
	} else if ((pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) &&
		   (pi->flags & PKT_F_L4)) {
		key_from(&k, pi);
	} else {
		return false;
	}
	c = pi->proto == IPPROTO_ICMP ? conn_lookup(fw->ct, &k, &dir)
				      : find(fw, &k, pi, &dir);
	if (c == NULL) {
		if (!may_handoff)
			return false;
		owner = owner_of(w, &k, port);
		if (owner < 0 || (unsigned int)owner == fw->index ||
		    (unsigned int)owner >= fw->fwd->nworkers)
			return false;
		handoff(w, m, port, (unsigned int)owner);
		return true;
	}
	if (pi->ttl <= 1) {
		fwd_icmp_time_exceeded_conn(w, m, port, pi, c, dir);
		return true;
	}
	if (pi->proto == IPPROTO_ICMP)
		icmp_error_xmit(w, m, pi, c, dir);
	else if (fwd_icmp_mtu_ok(w, m, port, pi, c, dir))
		conn_xmit(w, m, pi, c, dir);
	return true;
}

bool
fwd_reverse(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	    const struct pkt_info *pi)
{
	return reply_input(w, m, port, pi, true);
}

/* ---- new connections ------------------------------------------------------ */

/*
 * Limits (docs/dataplane.md "Connection limits"). Connection counts are
 * the gauges conn tracking keeps (active + inactive), summed over the
 * workers with plain reads of their counters: a few cache lines per new
 * connection, and only when a limit is set. Rates are token buckets per
 * worker, each worker getting rate / nworkers (at least 1) per second.
 */

/* This worker's share of a per-second rate. */
static uint64_t
rate_share(const struct fwd_worker *fw, uint32_t rate)
{
	unsigned int n = fw->fwd->nworkers;
	uint64_t r = rate / n + (fw->index < rate % n);

	return r != 0 ? r : 1;
}

/* Take one token of a bucket refilled at rate per second. */
static bool
bucket_take(struct fwd_worker *fw, struct fwd_bucket *b, uint64_t rate)
{
	uint64_t hz = fw->fwd->tsc_hz, now = rte_rdtsc();
	uint64_t cost = RTE_MAX(hz / rate, (uint64_t)1);

	if (b->last == 0 || now - b->last >= hz)
		b->credit = hz; /* new, or idle for a second: full */
	else
		b->credit = RTE_MIN(hz, b->credit + (now - b->last));
	b->last = now;
	if (b->credit < cost)
		return false;
	b->credit -= cost;
	return true;
}

/* Connections of slot (a service's or a backend's) on all workers. */
static uint64_t
conns_of(const struct fwd_worker *fw, bool backend, uint32_t slot)
{
	struct svc_table *t = fw->fwd->dp->svc;
	uint64_t n = 0;

	for (unsigned int i = 0; i < fw->fwd->nworkers; i++) {
		const struct svc_counters *c =
			backend ? svc_backend_counters(t, i, slot)
				: svc_counters(t, i, slot);

		n += __atomic_load_n(&c->active, __ATOMIC_RELAXED) +
		     __atomic_load_n(&c->inactive, __ATOMIC_RELAXED);
	}
	return n;
}

/*
 * IPVS's overload flag as this worker sees it: set when b's connections
 * reach u_thresh, cleared when they fall below l_thresh (3/4 of u_thresh
 * when 0).
 */
static bool
overloaded(struct fwd_worker *fw, const struct svc_backend *b)
{
	uint64_t *w, bit, n;

	if (b->u_thresh == 0 || b->slot >= fw->fwd->dp->conf.max_backends)
		return false;
	w = &fw->b_over[b->slot / 64];
	bit = 1ull << (b->slot % 64);
	n = conns_of(fw, true, b->slot);
	if (*w & bit) {
		if (b->l_thresh != 0 ? n < b->l_thresh
				     : n * 4 < (uint64_t)b->u_thresh * 3)
			*w &= ~bit;
	} else if (n >= b->u_thresh) {
		*w |= bit;
	}
	return (*w & bit) != 0;
}

/* b, or when it is overloaded the next backend in list order with a
 * weight that is not; NULL when none is left. */
static const struct svc_backend *
not_overloaded(struct fwd_worker *fw, const struct svc *s,
	       const struct svc_backend *b)
{
	uint32_t at = (uint32_t)(b - s->backends);

	if (!overloaded(fw, b))
		return b;
	for (uint32_t j = 1; j < s->nbackends; j++) {
		const struct svc_backend *o =
			&s->backends[(at + j) % s->nbackends];

		if (o->weight > 0 && !overloaded(fw, o))
			return o;
	}
	return NULL;
}

/* The SYN bucket of (saddr, service) on this worker: one of two slots,
 * the least recently used one taken over when neither matches. */
static struct fwd_bucket *
src_bucket(struct fwd_worker *fw, uint32_t saddr, uint32_t svc_slot)
{
	uint32_t h = rte_hash_crc_4byte(saddr, svc_slot) & (FWD_SRC_SLOTS - 1);
	struct fwd_src *a = &fw->src[h], *b = &fw->src[h ^ 1], *v;

	if (a->b.last != 0 && a->saddr == saddr && a->svc_slot == svc_slot)
		return &a->b;
	if (b->b.last != 0 && b->saddr == saddr && b->svc_slot == svc_slot)
		return &b->b;
	v = a->b.last <= b->b.last ? a : b;
	*v = (struct fwd_src){ .saddr = saddr, .svc_slot = svc_slot };
	return &v->b;
}

/* The limits a new connection of s (first packet pi) must pass. */
static enum dp_drop
limits(struct fwd_worker *fw, const struct pkt_info *pi, const struct svc *s)
{
	if (s->syn_src_rate != 0 && pi->proto == IPPROTO_TCP &&
	    !bucket_take(fw, src_bucket(fw, pi->saddr, s->slot),
			 rate_share(fw, s->syn_src_rate)))
		return DP_DROP_SYN_SRC_LIMIT;
	if (s->max_conns != 0 && conns_of(fw, false, s->slot) >= s->max_conns)
		return DP_DROP_SVC_CONN_LIMIT;
	if (s->conn_rate != 0 && s->slot < fw->fwd->dp->conf.max_services &&
	    !bucket_take(fw, &fw->svc_rate[s->slot],
			 rate_share(fw, s->conn_rate)))
		return DP_DROP_SVC_RATE_LIMIT;
	return DP_PASS;
}

/* The backend of c in version s (c->bidx refreshed), or NULL if gone. */
static const struct svc_backend *
conn_backend(const struct svc *s, struct conn *c)
{
	if (c->svc_slot != s->slot)
		return NULL;
	if (c->bidx < s->nbackends && s->backends[c->bidx].slot == c->bslot)
		return &s->backends[c->bidx];
	for (uint32_t i = 0; i < s->nbackends; i++)
		if (s->backends[i].slot == c->bslot) {
			c->bidx = conn_bidx(i);
			return &s->backends[i];
		}
	return NULL;
}

static const struct sched_load *
load_view(struct fwd_worker *fw, const struct svc *s, struct sched_load *l)
{
	struct svc_table *t = fw->fwd->dp->svc;
	uint32_t maxb = fw->fwd->dp->conf.max_backends;

	if (!s->sched->load_aware || s->nbackends > FWD_LOAD_MAX)
		return NULL;
	for (uint32_t i = 0; i < s->nbackends; i++) {
		uint32_t slot = s->backends[i].slot;
		const struct svc_counters *bc =
			svc_backend_counters(t, fw->index, slot);

		fw->ld_active[i] = (uint32_t)bc->active;
		fw->ld_inactive[i] = (uint32_t)bc->inactive;
		fw->ld_rtt[i] = slot < maxb ? fw->rtt_us[slot] : 0;
	}
	*l = (struct sched_load){ .active = fw->ld_active,
				  .inactive = fw->ld_inactive,
				  .rtt_us = fw->ld_rtt };
	return l;
}

/* Pick a backend for the flow pi of s, through its template if any. */
static const struct svc_backend *
pick(struct fwd_worker *fw, const struct svc *s, const struct pkt_info *pi,
     struct conn **tmpl)
{
	struct sched_flow f = {
		.saddr = { .family = AF_INET, .v4 = pi->saddr },
		.daddr = { .family = AF_INET, .v4 = pi->daddr },
		.sport = pi->sport,
		.dport = pi->dport,
		.proto = pi->proto,
	};
	const struct svc_backend *b;
	struct sched_load l;
	struct conn *t;

	*tmpl = NULL;
	if (s->persist != 0) {
		t = conn_tmpl_get(fw->ct, pi->proto, pi->saddr, pi->daddr,
				  rte_cpu_to_be_16(s->vport));
		if (t != NULL) {
			b = conn_backend(s, t);
			if (b != NULL && b->weight > 0) {
				*tmpl = t;
				return b;
			}
			conn_kill(fw->ct, t);
		}
	}
	b = svc_schedule(s, fw->index, &f, load_view(fw, s, &l));
	if (b == NULL || s->persist == 0)
		return b;
	t = conn_alloc(fw->ct);
	if (t == NULL)
		return b; /* the connection itself may still fit */
	t->proto = pi->proto;
	t->caddr = pi->saddr;
	t->vaddr = pi->daddr;
	t->vport = rte_cpu_to_be_16(s->vport);
	t->baddr = b->addr.v4;
	t->bport = rte_cpu_to_be_16(b->port);
	t->svc_slot = s->slot;
	t->bslot = b->slot;
	t->bidx = conn_bidx((uint32_t)(b - s->backends));
	t->mode = b->mode != LB_MODE_UNSET ? b->mode : s->mode;
	if (conn_tmpl_insert(fw->ct, t, s->persist) == 0)
		*tmpl = t;
	return b;
}

static struct conn *
conn_create(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
	    const struct svc *s)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	const struct fwd_mode_ops *ops;
	const struct svc_backend *b, *ob;
	struct conn *c, *t;
	enum dp_drop why;
	int rc;

	why = limits(fw, pi, s);
	if (why != DP_PASS) {
		dp_worker_drop(w, m, why);
		return NULL;
	}
	b = pick(fw, s, pi, &t);
	if (b == NULL) {
		dp_worker_drop(w, m, DP_DROP_NO_BACKEND);
		return NULL;
	}
	ob = not_overloaded(fw, s, b);
	if (ob == NULL) {
		dp_worker_drop(w, m, DP_DROP_BACKEND_OVERLOADED);
		return NULL;
	}
	if (ob != b) {
		/* a template's backend too: this connection goes elsewhere */
		t = NULL;
		b = ob;
	}
	ops = modes[b->mode != LB_MODE_UNSET ? b->mode : s->mode];
	if (ops == NULL || b->addr.family != AF_INET) {
		dp_worker_drop(w, m, DP_DROP_NO_BACKEND);
		return NULL;
	}
	c = conn_alloc(fw->ct);
	if (c == NULL) {
		dp_worker_drop(w, m, DP_DROP_CONN_TABLE_FULL);
		return NULL;
	}
	c->proto = pi->proto;
	c->mode = ops->mode;
	c->caddr = pi->saddr;
	c->vaddr = pi->daddr;
	c->cport = rte_cpu_to_be_16(pi->sport);
	c->vport = rte_cpu_to_be_16(pi->dport);
	c->baddr = b->addr.v4;
	c->bport = b->port != 0 ? rte_cpu_to_be_16(b->port) : c->vport;
	c->laddr = c->caddr;
	c->lport = c->cport;
	c->svc_slot = s->slot;
	c->bslot = b->slot;
	c->bidx = conn_bidx((uint32_t)(b - s->backends));
	c->state = pi->proto == IPPROTO_TCP ? CONN_S_NONE : CONN_S_NONE;
	if (ops->replies)
		c->flags |= CONN_F_OUT;
	if (ops->mode == LB_MODE_FNAT && (s->flags & LB_SVC_F_TOA) &&
	    pi->proto == IPPROTO_TCP)
		c->flags |= CONN_F_TOA;
	why = ops->conn_init(fw, c, s);
	if (why != DP_PASS) {
		conn_put(fw->ct, c);
		dp_worker_drop(w, m, why);
		return NULL;
	}
	rc = conn_insert(fw->ct, c);
	if (rc < 0) {
		if (ops->conn_release != NULL)
			ops->conn_release(fw, c);
		conn_put(fw->ct, c);
		/* the in tuple matched nothing: -EEXIST is the out tuple */
		dp_worker_drop(w, m,
			       rc == -EEXIST ? DP_DROP_NAT_TUPLE_COLLISION
					     : DP_DROP_CONN_TABLE_FULL);
		return NULL;
	}
	if (ops->replies && pi->proto == IPPROTO_TCP) {
		c->t_syn = now_us(fw);
		c->flags |= CONN_F_RTT;
	}
	if (t != NULL)
		conn_tmpl_bind(fw->ct, c, t);
	gauge(fw, c, GAUGE_OPEN);
	svc_counters(w->dp->svc, fw->index, s->slot)->conns++;
	svc_backend_counters(w->dp->svc, fw->index, b->slot)->conns++;
	return c;
}

/*
 * The SYN proxy's part of a TCP packet to s without a connection: a SYN
 * is answered with a cookie, an ACK with a valid one opens the
 * connection and its backend side (synproxy.h). True when m was taken.
 */
static bool
sp_new(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
       const struct pkt_info *pi, const struct svc *s, uint8_t tflags)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	uint8_t f = tflags &
		    (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG);
	uint32_t now = conn_now(fw->ct), used, size;
	struct synproxy_opts o;
	struct pkt_info spi;
	struct rte_mbuf *syn;
	enum dp_drop why;
	struct conn *c;

	if (f == RTE_TCP_SYN_FLAG) {
		used = conn_used(fw->ct, &size);
		if (!synproxy_on(w, &fw->sp, s->flags, s->mode, true, used,
				 size))
			return false;
		synproxy_syn(w, &fw->sp, now, m, port, pi,
			     (uint16_t)(w->dp->ports[port]->mtu - 40));
		return true;
	}
	if (f != RTE_TCP_ACK_FLAG || (s->flags & LB_SVC_F_SYNPROXY_OFF) ||
	    (s->mode != LB_MODE_NAT && s->mode != LB_MODE_FNAT) ||
	    !synproxy_cookies_live(&fw->sp, now))
		return false;
	why = synproxy_ack(w, &fw->sp, now, m, pi, &o);
	if (why != DP_PASS) {
		dp_worker_drop(w, m, why);
		return true;
	}
	c = conn_create(w, m, pi, s);
	if (c == NULL)
		return true;
	if (c->mode != LB_MODE_NAT && c->mode != LB_MODE_FNAT) {
		/* a backend of another mode: its replies bypass us */
		conn_kill(fw->ct, c);
		dp_worker_drop(w, m, DP_DROP_NO_BACKEND);
		return true;
	}
	syn = synproxy_open(w, &fw->sp, conn_sp(fw->ct, c), c, m, pi, &o, &spi);
	if (syn == NULL) {
		conn_kill(fw->ct, c);
		dp_worker_drop(w, m, DP_DROP_SYNPROXY_NO_MBUF);
		return true;
	}
	conn_xmit(w, syn, &spi, c, CONN_DIR_IN);
	return true;
}

/*
 * LB_SVC_F_MH_ADOPT: may a TCP segment with tflags and no connection
 * start one (a flow another balancer node scheduled on the same mh
 * table)? Only a segment with ACK and neither SYN nor RST, in DR or
 * TUNNEL: the backend answers the client itself, so no state of the
 * failed node is needed. It passes the limits of a new connection.
 */
static bool
adoptable(const struct svc *s, uint8_t tflags)
{
	return (s->flags & LB_SVC_F_MH_ADOPT) &&
	       (s->mode == LB_MODE_DR || s->mode == LB_MODE_TUNNEL) &&
	       (tflags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG |
			  RTE_TCP_RST_FLAG)) == RTE_TCP_ACK_FLAG;
}

/*
 * c was just created from a segment without SYN: embryonic (SYN_RECV:
 * the syn_recv timeout, evicted first when the table is full) until the
 * client's next segment moves it to ESTABLISHED, like a SYN and its ACK.
 * A FIN left it closing: it stays so.
 */
static void
adopted(struct fwd_worker *fw, struct conn *c)
{
	if (c->state == CONN_S_ESTABLISHED) {
		conn_set_state(fw->ct, c, CONN_S_SYN_RECV);
		gauge_state(fw, c);
	}
	fw->adopted++;
}

void
fwd_forward(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	    const struct pkt_info *pi, const struct svc *s)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	const struct svc_backend *b = NULL;
	uint8_t tflags = 0;
	struct conn_key k;
	unsigned int dir;
	bool adopt = false;
	struct conn *c;

	if (pi->proto == IPPROTO_TCP)
		tflags =
			pkt_at(m, struct rte_tcp_hdr *, pi->l2_len + pi->l3_len)
				->tcp_flags;
	key_from(&k, pi);
	c = find(fw, &k, pi, &dir);
	if (c != NULL && dir == CONN_DIR_OUT) {
		/* a FULL-NAT reply to a local address that is also a VIP */
		if (fwd_icmp_mtu_ok(w, m, port, pi, c, dir))
			conn_xmit(w, m, pi, c, dir);
		return;
	}
	if (c != NULL && (b = conn_backend(s, c)) == NULL) {
		if (w->dp->del_policy != LB_DEL_RESET) {
			dp_worker_drop(w, m, DP_DROP_BACKEND_GONE);
			return;
		}
		conn_kill(fw->ct, c);
		c = NULL;
	} else if (c != NULL && c->proto == IPPROTO_UDP && b->weight == 0 &&
		   (b->flags & LB_BACKEND_F_DOWN) &&
		   !(s->flags & LB_SVC_F_UDP_DRAIN)) {
		/* a flow on a backend that is down: a healthy one takes it
		 * (TCP connections drain: they cannot move) */
		conn_kill(fw->ct, c);
		c = NULL;
	}
	if (c != NULL &&
	    (tflags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
		    RTE_TCP_SYN_FLAG &&
	    (c->state == CONN_S_TIME_WAIT || c->state == CONN_S_CLOSE)) {
		/* a new connection reusing the tuple: schedule it afresh */
		conn_kill(fw->ct, c);
		c = NULL;
	}
	if (c == NULL) {
		if (pi->proto == IPPROTO_TCP &&
		    sp_new(w, m, port, pi, s, tflags))
			return;
		if (pi->proto == IPPROTO_TCP &&
		    (tflags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG |
			       RTE_TCP_RST_FLAG)) != RTE_TCP_SYN_FLAG) {
			if (!adoptable(s, tflags)) {
				dp_worker_drop(w, m, DP_DROP_NO_CONN);
				return;
			}
			adopt = true;
		}
		c = conn_create(w, m, pi, s);
		if (c == NULL)
			return;
	}
	if (fwd_icmp_mtu_ok(w, m, port, pi, c, CONN_DIR_IN))
		conn_xmit(w, m, pi, c, CONN_DIR_IN);
	if (adopt)
		adopted(fw, c);
}

/* ---- per-iteration work -------------------------------------------------- */

void
fwd_poll(struct dp_worker *w)
{
	struct fwd_worker *fw = fwd_worker_of(w);
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int n;

	n = rte_ring_sc_dequeue_burst(fw->handoff, (void **)pkts, DP_BURST,
				      NULL);
	for (unsigned int i = 0; i < n; i++) {
		struct pkt_info pi;
		uint16_t port = (uint16_t)pkts[i]->hash.usr;

		fw->handoff_in++;
		if (pkt_parse(pkts[i], &pi) != DP_PASS ||
		    !reply_input(w, pkts[i], port, &pi, false))
			dp_worker_drop(w, pkts[i], DP_DROP_NOT_OURS);
	}
	conn_expire(fw->ct);
	if (__atomic_load_n(&fw->dump.req, __ATOMIC_ACQUIRE) != fw->dump.done) {
		fw->dump.n = conn_dump_chunk(fw->ct, &fw->dump.next,
					     fw->dump.out, FWD_DUMP_CHUNK);
		__atomic_store_n(&fw->dump.done, fw->dump.req,
				 __ATOMIC_RELEASE);
	}
}
