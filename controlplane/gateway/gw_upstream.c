/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Gateway upstreams (gw_upstream.h): instances, balancers, passive
 * ejection. Each balancer is a static set of functions behind a const ops
 * struct in the table `balancers`; pick runs under the upstream's mutex
 * after refresh() has let ejected instances whose time is up back in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "gw_upstream.h"

#define EWMA_SHIFT 3 /* least_time: new = old + (sample - old) / 8 */

/* ---- hashing ------------------------------------------------------------ */

static uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finaliser: FNV alone spreads short keys poorly */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t
gw_hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return mix64(h);
}

static uint64_t
hash_peer(const struct sockaddr *peer)
{
	if (peer == NULL)
		return 0;
	if (peer->sa_family == AF_INET)
		return gw_hash_bytes(
			&((const struct sockaddr_in *)peer)->sin_addr, 4);
	if (peer->sa_family == AF_INET6)
		return gw_hash_bytes(
			&((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
	return 0;
}

/* The value of cookie name in a Cookie header ("a=1; b=2"), as [*v, *vn). */
static bool
find_cookie(const char *hdr, const char *name, const char **v, size_t *vn)
{
	size_t nl = strlen(name);
	const char *p = hdr;

	while (*p != '\0') {
		const char *end;

		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			*v = p + nl + 1;
			*vn = (size_t)(end - *v);
			return true;
		}
		p = end;
	}
	return false;
}

/* The value of parameter name in a query ("a=1&b=2"). */
static bool
find_param(const char *q, const char *name, const char **v, size_t *vn)
{
	size_t nl = strlen(name);
	const char *p = q;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');

		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) >= nl && strncmp(p, name, nl) == 0 &&
		    (p[nl] == '=' || p + nl == end)) {
			*v = p[nl] == '=' ? p + nl + 1 : end;
			*vn = (size_t)(end - *v);
			return true;
		}
		p = *end == '&' ? end + 1 : end;
	}
	return false;
}

uint64_t
gw_upstream_key_hash(const struct gw_upstream *u, const struct http_msg *m,
		     const struct sockaddr *peer)
{
	const char *v = NULL, *h;
	size_t vn = 0;

	switch (u->conf.hash_on) {
	case GW_HASH_HEADER:
		v = m != NULL ? http_msg_header(m, u->conf.hash_key) : NULL;
		if (v != NULL)
			vn = strlen(v);
		break;
	case GW_HASH_COOKIE:
		h = m != NULL ? http_msg_header(m, "Cookie") : NULL;
		if (h == NULL || !find_cookie(h, u->conf.hash_key, &v, &vn))
			v = NULL;
		break;
	case GW_HASH_QUERY:
		if (m == NULL || m->query == NULL ||
		    !find_param(m->query, u->conf.hash_key, &v, &vn))
			v = NULL;
		break;
	case GW_HASH_CLIENT:
		break;
	}
	return v != NULL ? gw_hash_bytes(v, vn) : hash_peer(peer);
}

/* ---- availability ------------------------------------------------------- */

/* Let back the instances whose ejection is over. */
static void
refresh(struct gw_upstream *u, uint64_t now)
{
	for (size_t i = 0; i < u->n; i++) {
		struct gw_instance *in = &u->inst[i];

		if (in->ejected_until != 0 && now >= in->ejected_until) {
			in->ejected_until = 0;
			in->consec_fail = 0;
			u->nejected--;
			u->st.returns++;
		}
	}
}

static bool
avail(const struct gw_upstream *u, size_t i, int exclude)
{
	return u->inst[i].healthy && u->inst[i].ejected_until == 0 &&
	       (int)i != exclude;
}

/* ---- rr ------------------------------------------------------------------ */

static int
rr_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	(void)hash;
	(void)now;
	for (size_t k = 0; k < u->n; k++) {
		size_t i = (size_t)((u->rr + k) % u->n);

		if (avail(u, i, exclude)) {
			u->rr = i + 1;
			return (int)i;
		}
	}
	return -1;
}

static const struct gw_balancer_ops bal_rr = {
	.name = "rr",
	.pick = rr_pick,
};

/* ---- wrr: smooth weighted round robin ----------------------------------- */

static int
wrr_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	int64_t total = 0;
	int best = -1;

	(void)hash;
	(void)now;
	for (size_t i = 0; i < u->n; i++) {
		struct gw_instance *in = &u->inst[i];

		if (!avail(u, i, exclude))
			continue;
		in->cw += in->weight;
		total += in->weight;
		if (best < 0 || in->cw > u->inst[best].cw)
			best = (int)i;
	}
	if (best >= 0)
		u->inst[best].cw -= total;
	return best;
}

static const struct gw_balancer_ops bal_wrr = {
	.name = "wrr",
	.pick = wrr_pick,
};

/* ---- least_conn ----------------------------------------------------------- */

static int
lc_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	int best = -1;

	(void)hash;
	(void)now;
	/* start after the last pick so that ties rotate */
	for (size_t k = 0; k < u->n; k++) {
		size_t i = (size_t)((u->rr + k) % u->n);
		const struct gw_instance *a = &u->inst[i], *b;

		if (!avail(u, i, exclude))
			continue;
		b = best >= 0 ? &u->inst[best] : NULL;
		/* a.inflight / a.weight < b.inflight / b.weight */
		if (b == NULL || (uint64_t)a->inflight * b->weight <
					 (uint64_t)b->inflight * a->weight)
			best = (int)i;
	}
	if (best >= 0)
		u->rr = (uint64_t)best + 1;
	return best;
}

static const struct gw_balancer_ops bal_least_conn = {
	.name = "least_conn",
	.pick = lc_pick,
};

/* ---- least_time ----------------------------------------------------------- */

static int
lt_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	double bscore = 0;
	int best = -1;

	(void)hash;
	(void)now;
	for (size_t k = 0; k < u->n; k++) {
		size_t i = (size_t)((u->rr + k) % u->n);
		const struct gw_instance *a = &u->inst[i];
		double s;

		if (!avail(u, i, exclude))
			continue;
		/* +1 µs: an instance without a sample still counts its load */
		s = (double)(a->ewma_us + 1) * (a->inflight + 1) / a->weight;
		if (best < 0 || s < bscore) {
			best = (int)i;
			bscore = s;
		}
	}
	if (best >= 0)
		u->rr = (uint64_t)best + 1;
	return best;
}

static const struct gw_balancer_ops bal_least_time = {
	.name = "least_time",
	.pick = lt_pick,
};

/* ---- ip_hash -------------------------------------------------------------- */

static int
iph_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	size_t start = (size_t)(hash % u->n);

	(void)now;
	for (size_t k = 0; k < u->n; k++) {
		size_t i = (start + k) % u->n;

		if (avail(u, i, exclude))
			return (int)i;
	}
	return -1;
}

static const struct gw_balancer_ops bal_ip_hash = {
	.name = "ip_hash",
	.hashed = true,
	.pick = iph_pick,
};

/* ---- hash: a ring with virtual nodes ---------------------------------------
 *
 * Karger et al., "Consistent hashing and random trees" (STOC 1997): each
 * instance puts vnodes * weight points on a 64-bit ring, at the hash of
 * "address:port#k"; a key goes to the first point at or after its hash
 * whose instance is available. The points depend on the instance's
 * address only, so removing one instance moves only the keys whose point
 * was its.
 */
struct ring_pt {
	uint64_t h;
	uint32_t idx;
};

struct ring {
	size_t n;
	struct ring_pt pt[];
};

static int
pt_cmp(const void *a, const void *b)
{
	const struct ring_pt *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
ring_init(struct gw_upstream *u)
{
	size_t total = 0, k = 0;
	struct ring *r;

	for (size_t i = 0; i < u->n; i++)
		total += (size_t)u->conf.vnodes * u->inst[i].weight;
	r = malloc(sizeof(*r) + total * sizeof(r->pt[0]));
	if (r == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < u->n; i++) {
		size_t np = (size_t)u->conf.vnodes * u->inst[i].weight;
		char key[LB_ADDRPORTSTRLEN + 16];

		for (size_t v = 0; v < np; v++) {
			int len = snprintf(key, sizeof(key), "%s#%zu",
					   u->inst[i].label, v);

			r->pt[k].h = gw_hash_bytes(key, (size_t)len);
			r->pt[k++].idx = (uint32_t)i;
		}
	}
	r->n = total;
	qsort(r->pt, r->n, sizeof(r->pt[0]), pt_cmp);
	u->bal = r;
	return 0;
}

static void
ring_fini(struct gw_upstream *u)
{
	free(u->bal);
	u->bal = NULL;
}

static int
ring_pick(struct gw_upstream *u, uint64_t hash, int exclude, uint64_t now)
{
	const struct ring *r = u->bal;
	size_t lo = 0, hi = r->n;

	(void)now;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->pt[mid].h < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < r->n; k++) {
		const struct ring_pt *p = &r->pt[(lo + k) % r->n];

		if (avail(u, p->idx, exclude))
			return (int)p->idx;
	}
	return -1;
}

static const struct gw_balancer_ops bal_hash = {
	.name = "hash",
	.hashed = true,
	.init = ring_init,
	.fini = ring_fini,
	.pick = ring_pick,
};

static const struct gw_balancer_ops *const balancers[] = {
	&bal_rr,	 &bal_wrr,     &bal_least_conn,
	&bal_least_time, &bal_ip_hash, &bal_hash,
};

const struct gw_balancer_ops *
gw_balancer_find(const char *name)
{
	for (size_t i = 0; i < sizeof(balancers) / sizeof(balancers[0]); i++)
		if (strcmp(balancers[i]->name, name) == 0)
			return balancers[i];
	return NULL;
}

/* ---- the upstream ------------------------------------------------------- */

void
gw_upstream_conf_init(struct gw_upstream_conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->bal = &bal_rr;
	c->hash_on = GW_HASH_CLIENT;
	c->vnodes = 160;
	c->proto = HTTP_CLIENT_H1;
	c->eject_after = 5;
	c->eject_base_ms = 30000;
	c->eject_max_ms = 300000;
	c->eject_max_pct = 50;
	c->max_conns = GW_POOL_DEFAULT;
	c->max_idle_conns = GW_POOL_DEFAULT;
	c->max_pending = GW_PENDING_DEFAULT;
	c->max_requests = 0;
}

bool
gw_upstream_enter(struct gw_upstream *u)
{
	uint32_t max = u->conf.max_requests;

	if (max == 0)
		return true;
	if (__atomic_add_fetch(&u->active, 1, __ATOMIC_RELAXED) <= max)
		return true;
	__atomic_sub_fetch(&u->active, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&u->mu);
	u->st.max_requests++;
	pthread_mutex_unlock(&u->mu);
	return false;
}

void
gw_upstream_leave(struct gw_upstream *u)
{
	if (u->conf.max_requests != 0)
		__atomic_sub_fetch(&u->active, 1, __ATOMIC_RELAXED);
}

void
gw_upstream_pending_full(struct gw_upstream *u)
{
	pthread_mutex_lock(&u->mu);
	u->st.pending_overflow++;
	pthread_mutex_unlock(&u->mu);
}

struct gw_upstream *
gw_upstream_new(const struct gw_upstream_conf *c)
{
	struct gw_upstream *u;

	if (c->ninst == 0 || c->ninst > GW_MAX_INSTANCES || c->vnodes == 0 ||
	    c->vnodes > GW_MAX_VNODES || c->eject_max_pct > 100) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		goto err;
	u->conf = *c;
	u->ops = c->bal != NULL ? c->bal : &bal_rr;
	u->n = c->ninst;
	u->inst = calloc(u->n, sizeof(*u->inst));
	if (u->inst == NULL)
		goto err;
	for (size_t i = 0; i < u->n; i++) {
		struct gw_instance *in = &u->inst[i];

		in->addr = c->inst[i].addr;
		in->port = c->inst[i].port;
		in->weight = c->inst[i].weight;
		if (in->weight == 0 || in->weight > GW_MAX_WEIGHT) {
			errno = EINVAL;
			goto err;
		}
		lb_addr_port_format(&in->addr, in->port, in->label,
				    sizeof(in->label));
		in->healthy = true;
	}
	if (u->ops->init != NULL && u->ops->init(u) < 0) {
		errno = ENOMEM;
		goto err;
	}
	/* no more failures: the mutex last */
	pthread_mutex_init(&u->mu, NULL);
	return u;
err:
	if (u != NULL) {
		int e = errno;

		free(u->inst);
		free(u);
		errno = e;
	}
	return NULL;
}

void
gw_upstream_free(struct gw_upstream *u)
{
	if (u == NULL)
		return;
	if (u->ops->fini != NULL)
		u->ops->fini(u);
	pthread_mutex_destroy(&u->mu);
	free(u->inst);
	free(u);
}

int
gw_upstream_pick(struct gw_upstream *u, uint64_t hash, int exclude,
		 uint64_t now_ms)
{
	int i;

	pthread_mutex_lock(&u->mu);
	refresh(u, now_ms);
	i = u->ops->pick(u, hash, exclude, now_ms);
	if (i >= 0) {
		u->inst[i].inflight++;
		u->inst[i].st.picks++;
		u->st.picks++;
	} else {
		u->st.no_instance++;
	}
	pthread_mutex_unlock(&u->mu);
	return i >= 0 ? i : -EHOSTUNREACH;
}

/* Eject in if the share allows; the caller holds the mutex. */
static void
eject(struct gw_upstream *u, struct gw_instance *in, uint64_t now)
{
	uint64_t allowed = (uint64_t)u->n * u->conf.eject_max_pct / 100;
	uint64_t dur = u->conf.eject_base_ms;

	if (u->nejected >= allowed) {
		u->st.eject_refused++;
		return;
	}
	for (uint32_t k = 0; k < in->ejections && dur < u->conf.eject_max_ms;
	     k++)
		dur *= 2;
	if (dur > u->conf.eject_max_ms)
		dur = u->conf.eject_max_ms;
	in->ejections++;
	in->ejected_until = now + (dur > 0 ? dur : 1);
	in->st.ejections++;
	u->nejected++;
	u->st.ejections++;
}

void
gw_upstream_done(struct gw_upstream *u, int idx, enum gw_outcome o,
		 uint64_t rtt_us, uint64_t now_ms)
{
	struct gw_instance *in;

	if (idx < 0 || (size_t)idx >= u->n)
		return;
	pthread_mutex_lock(&u->mu);
	in = &u->inst[idx];
	if (in->inflight > 0)
		in->inflight--;
	switch (o) {
	case GW_OUT_OK:
		in->consec_fail = 0;
		if (in->ewma_us == 0)
			in->ewma_us = rtt_us + 1;
		else
			in->ewma_us = (uint64_t)((int64_t)in->ewma_us +
						 ((int64_t)rtt_us -
						  (int64_t)in->ewma_us) /
							 (1 << EWMA_SHIFT));
		break;
	case GW_OUT_5XX:
	case GW_OUT_CONNECT:
		if (o == GW_OUT_5XX)
			u->st.resp_5xx++;
		else
			u->st.connect_errors++;
		in->st.failures++;
		in->consec_fail++;
		if (u->conf.eject_after > 0 &&
		    in->consec_fail >= u->conf.eject_after &&
		    in->ejected_until == 0) {
			in->consec_fail = 0;
			eject(u, in, now_ms);
		}
		break;
	case GW_OUT_CANCELED:
		break;
	}
	pthread_mutex_unlock(&u->mu);
}

int
gw_upstream_set_healthy(struct gw_upstream *u, size_t idx, bool healthy)
{
	if (idx >= u->n)
		return -ERANGE;
	pthread_mutex_lock(&u->mu);
	u->inst[idx].healthy = healthy;
	pthread_mutex_unlock(&u->mu);
	return 0;
}

bool
gw_upstream_available(struct gw_upstream *u, size_t idx, uint64_t now_ms)
{
	bool ok;

	if (idx >= u->n)
		return false;
	pthread_mutex_lock(&u->mu);
	refresh(u, now_ms);
	ok = avail(u, idx, -1);
	pthread_mutex_unlock(&u->mu);
	return ok;
}

void
gw_upstream_stats_read(struct gw_upstream *u, struct gw_upstream_stats *s)
{
	pthread_mutex_lock(&u->mu);
	*s = u->st;
	pthread_mutex_unlock(&u->mu);
}
