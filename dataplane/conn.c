/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking, the table: its hash (both directions of a
 * connection), lookups with burst hints, allocation and insertion, the
 * TCP state machine, the clock, statistics and the chunks a CONN_GET dump
 * reads. The timer wheel is conn_timer.c, templates conn_tmpl.c, the dump
 * itself conn_ctrl.c. See conn.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>

#include "edgelb/lbmsg.h"
#include "conn.h"
#include "conn_priv.h"
#include "dp.h"

/* ---- TCP state machine (IPVS's tables, RST -> CLOSE) ----------------------- */

enum { EV_SYN, EV_FIN, EV_ACK, EV_RST, EV_MAX };

#define sNO CONN_S_NONE
#define sES CONN_S_ESTABLISHED
#define sSS CONN_S_SYN_SENT
#define sSR CONN_S_SYN_RECV
#define sFW CONN_S_FIN_WAIT
#define sTW CONN_S_TIME_WAIT
#define sCL CONN_S_CLOSE
#define sCW CONN_S_CLOSE_WAIT
#define sLA CONN_S_LAST_ACK

/* [table][event][state]: table 0 = in, 1 = out, 2 = input only. */
static const uint8_t tcp_states[3][EV_MAX][CONN_S_MAX] = {
	{
		/*        sNO  sES  sSS  sSR  sFW  sTW  sCL  sCW  sLA */
		[EV_SYN] = { sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR },
		[EV_FIN] = { sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA },
		[EV_ACK] = { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL },
		[EV_RST] = { sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
	},
	{
		[EV_SYN] = { sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS },
		[EV_FIN] = { sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA },
		[EV_ACK] = { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA },
		[EV_RST] = { sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
	},
	{
		[EV_SYN] = { sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR },
		[EV_FIN] = { sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA },
		[EV_ACK] = { sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL },
		[EV_RST] = { sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
	},
};

static const char *const state_names[CONN_S_MAX] = {
	"NONE",	     "ESTABLISHED", "SYN_SENT",	  "SYN_RECV", "FIN_WAIT",
	"TIME_WAIT", "CLOSE",	    "CLOSE_WAIT", "LAST_ACK",
};

const char *
conn_state_name(uint8_t state)
{
	return state < CONN_S_MAX ? state_names[state] : "?";
}

uint32_t
conn_state_timeout(const struct dpconf_timeouts *tmo, uint8_t proto,
		   uint8_t state)
{
	if (proto != IPPROTO_TCP)
		return tmo->udp;
	switch (state) {
	case CONN_S_ESTABLISHED:
		return tmo->established;
	case CONN_S_SYN_SENT:
	case CONN_S_SYN_RECV:
		return tmo->syn_recv;
	case CONN_S_FIN_WAIT:
	case CONN_S_CLOSE_WAIT:
	case CONN_S_LAST_ACK:
		return tmo->fin_wait;
	case CONN_S_TIME_WAIT:
		return tmo->time_wait;
	default:
		return tmo->close;
	}
}

/* ---- clock ------------------------------------------------------- */

void
conn_tick(struct conn_table *ct)
{
	if (ct->clock == NULL)
		ct->now = (uint32_t)(rte_get_tsc_cycles() / rte_get_tsc_hz());
}

uint32_t
conn_now(const struct conn_table *ct)
{
	return conn_clock(ct);
}

/* ---- hash -------------------------------------------------------------- */

void
conn_key_of(const struct conn *c, unsigned int dir, struct conn_key *k)
{
	memset(k, 0, sizeof(*k));
	k->proto = c->proto;
	if (dir == CONN_DIR_IN) {
		k->saddr = c->caddr;
		k->daddr = c->vaddr;
		k->sport = c->cport;
		k->dport = c->vport;
	} else {
		k->saddr = c->baddr;
		k->daddr = c->laddr;
		k->sport = c->bport;
		k->dport = c->lport;
	}
}

void
conn_tmpl_key(struct conn_key *k, uint8_t proto, uint32_t caddr, uint32_t vaddr,
	      uint16_t vport)
{
	memset(k, 0, sizeof(*k));
	k->saddr = caddr;
	k->daddr = vaddr;
	k->dport = vport;
	k->proto = proto;
	k->tmpl = 1;
}

void
conn_unhash(struct conn_table *ct, struct conn *c)
{
	struct conn_key k;

	if (!(c->flags & CONN_F_HASHED))
		return;
	conn_evl_unlink(ct, c);
	c->flags &= (uint16_t)~CONN_F_HASHED;
	if (c->flags & CONN_F_TEMPLATE) {
		conn_tmpl_key(&k, c->proto, c->caddr, c->vaddr, c->vport);
		rte_hash_del_key(ct->h, &k);
		return;
	}
	conn_key_of(c, CONN_DIR_IN, &k);
	rte_hash_del_key(ct->h, &k);
	if (c->flags & CONN_F_OUT) {
		conn_key_of(c, CONN_DIR_OUT, &k);
		rte_hash_del_key(ct->h, &k);
	}
	if (ct->unlink != NULL)
		ct->unlink(ct->unlink_arg, c);
	if (c->tmpl != CONN_NIL) {
		ct->objs[c->tmpl].refcnt--;
		c->tmpl = CONN_NIL;
	}
}

void
conn_obj_put(struct conn_table *ct, struct conn *c)
{
	ct->free[ct->nfree++] = conn_idx(ct, c);
}

void
conn_free_obj(struct conn_table *ct, struct conn *c)
{
	conn_unhash(ct, c);
	conn_wheel_unlink(ct, c);
	if (c->flags & CONN_F_TEMPLATE)
		ct->st.templates--;
	ct->st.conns--;
	ct->st.expired++;
	conn_obj_put(ct, c);
}

/* ---- table ------------------------------------------------------------- */

struct conn_table *
conn_table_create(const struct conn_table_conf *conf)
{
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp = {
		.name = name,
		.key_len = sizeof(struct conn_key),
		.hash_func = rte_hash_crc,
		.socket_id = conf->socket_id,
	};
	struct conn_table *ct;

	if (conf->name == NULL || conf->size < 64 || conf->size > (1u << 30) ||
	    conf->tmo == NULL) {
		errno = EINVAL;
		return NULL;
	}
	ct = rte_zmalloc_socket("conn_table", sizeof(*ct), RTE_CACHE_LINE_SIZE,
				conf->socket_id);
	if (ct == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* two entries per connection, plus slack for the cuckoo buckets */
	hp.entries = conf->size * 2 + conf->size / 4;
	snprintf(name, sizeof(name), "ch_%s", conf->name);
	ct->h = rte_hash_create(&hp);
	if (ct->h == NULL)
		goto err;
	ct->objs = rte_malloc_socket("conn_objs",
				     (size_t)conf->size * sizeof(struct conn),
				     RTE_CACHE_LINE_SIZE, conf->socket_id);
	ct->free = rte_malloc_socket("conn_free",
				     (size_t)conf->size * sizeof(uint32_t),
				     RTE_CACHE_LINE_SIZE, conf->socket_id);
	ct->evl = rte_malloc_socket(
		"conn_evl", (size_t)conf->size * sizeof(struct conn_evl),
		RTE_CACHE_LINE_SIZE, conf->socket_id);
	ct->sp = rte_malloc_socket("conn_sp",
				   (size_t)conf->size * sizeof(struct conn_sp),
				   RTE_CACHE_LINE_SIZE, conf->socket_id);
	if (ct->objs == NULL || ct->free == NULL || ct->evl == NULL ||
	    ct->sp == NULL)
		goto err;
	for (unsigned int l = 0; l < CONN_EVL_N; l++) {
		ct->evl_head[l] = CONN_NIL;
		ct->evl_tail[l] = CONN_NIL;
	}
	/* lowest index first: a small table stays in few pages */
	for (uint32_t i = 0; i < conf->size; i++)
		ct->free[i] = conf->size - 1 - i;
	ct->nfree = conf->size;
	ct->size = conf->size;
	ct->pend = CONN_NIL;
	for (uint32_t i = 0; i < CONN_WHEEL_SLOTS; i++)
		ct->wheel[i] = CONN_NIL;
	ct->tmo = conf->tmo;
	ct->clock = conf->clock;
	ct->clock_arg = conf->clock_arg;
	ct->unlink = conf->unlink;
	ct->unlink_arg = conf->unlink_arg;
	ct->budget = conf->budget != 0 ? conf->budget : CONN_DEFAULT_BUDGET;
	conn_tick(ct);
	ct->cur = conn_clock(ct);
	return ct;
err:
	errno = ct->h == NULL && rte_errno == EEXIST ? EEXIST : ENOMEM;
	rte_hash_free(ct->h);
	rte_free(ct->objs);
	rte_free(ct->free);
	rte_free(ct->evl);
	rte_free(ct->sp);
	rte_free(ct);
	return NULL;
}

void
conn_table_destroy(struct conn_table *ct)
{
	if (ct == NULL)
		return;
	/* connections first: they drop their template references */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < CONN_WHEEL_SLOTS; i++) {
			uint32_t *link = &ct->wheel[i];

			while (*link != CONN_NIL) {
				struct conn *c = &ct->objs[*link];

				if (pass == 0 && (c->flags & CONN_F_TEMPLATE)) {
					link = &c->next;
					continue;
				}
				conn_free_obj(ct, c);
			}
		}
	while (ct->pend != CONN_NIL)
		conn_free_obj(ct, &ct->objs[ct->pend]);
	rte_hash_free(ct->h);
	rte_free(ct->objs);
	rte_free(ct->free);
	rte_free(ct->evl);
	rte_free(ct->sp);
	rte_free(ct);
}

static bool
past(const struct conn_table *ct, const struct conn *c, uint32_t now)
{
	RTE_SET_USED(ct);
	return (int32_t)(now - c->expires) >= 0 &&
	       !((c->flags & CONN_F_TEMPLATE) && c->refcnt > 0);
}

/* The connection hash data d points at, unless it is past its deadline. */
static struct conn *
found(struct conn_table *ct, void *d, unsigned int *dir)
{
	struct conn *c = (struct conn *)((uintptr_t)d & ~(uintptr_t)1);

	if (past(ct, c, conn_clock(ct))) {
		conn_kill(ct, c);
		return NULL;
	}
	*dir = (unsigned int)((uintptr_t)d & 1);
	return c;
}

struct conn *
conn_lookup(struct conn_table *ct, const struct conn_key *k, unsigned int *dir)
{
	void *d;

	if (rte_hash_lookup_data(ct->h, k, &d) < 0)
		return NULL;
	return found(ct, d, dir);
}

void
conn_lookup_bulk(struct conn_table *ct, const struct conn_key **keys,
		 unsigned int n, struct conn_hint *hints)
{
	void *d[CONN_BULK_MAX];
	uint64_t hits = 0;

	if (n == 0)
		return;
	n = RTE_MIN(n, CONN_BULK_MAX);
	rte_hash_lookup_bulk_data(ct->h, (const void **)keys, n, &hits, d);
	for (unsigned int i = 0; i < n; i++) {
		hints[i].gen = ct->gen;
		hints[i].d = NULL;
		if (hits & (1ull << i)) {
			hints[i].d = d[i];
			rte_prefetch0(
				(void *)((uintptr_t)d[i] & ~(uintptr_t)1));
		}
	}
}

struct conn *
conn_lookup_hint(struct conn_table *ct, const struct conn_key *k,
		 const struct conn_hint *h, unsigned int *dir)
{
	const struct conn *c;

	if (h->d == NULL) {
		/* a miss holds until something is inserted */
		if (h->gen == ct->gen)
			return NULL;
		return conn_lookup(ct, k, dir);
	}
	/*
	 * a hit holds while its connection is hashed (never freed then) and
	 * nothing was evicted since: an eviction frees an object at once,
	 * and a new connection may reuse it within the burst
	 */
	c = (const struct conn *)((uintptr_t)h->d & ~(uintptr_t)1);
	if (!(c->flags & CONN_F_HASHED) ||
	    (int32_t)(ct->evict_gen - h->gen) > 0)
		return conn_lookup(ct, k, dir);
	return found(ct, h->d, dir);
}

struct conn *
conn_alloc(struct conn_table *ct)
{
	struct conn *c;

	if (ct->nfree == 0 && !conn_evict(ct)) {
		ct->st.table_full++;
		return NULL;
	}
	c = &ct->objs[ct->free[--ct->nfree]];
	memset(c, 0, sizeof(*c));
	c->next = CONN_NIL;
	c->prev = CONN_NIL;
	c->tmpl = CONN_NIL;
	return c;
}

struct conn_sp *
conn_sp(struct conn_table *ct, const struct conn *c)
{
	return &ct->sp[conn_idx(ct, c)];
}

uint32_t
conn_used(const struct conn_table *ct, uint32_t *size)
{
	*size = ct->size;
	return ct->size - ct->nfree;
}

int
conn_add_key(struct conn_table *ct, const struct conn_key *k, void *data)
{
	hash_sig_t sig = rte_hash_hash(ct->h, k);

	if (rte_hash_lookup_with_hash(ct->h, k, sig) >= 0)
		return -EEXIST;
	if (rte_hash_add_key_with_hash_data(ct->h, k, sig, data) < 0)
		return -ENOSPC;
	ct->gen++;
	return 0;
}

int
conn_insert(struct conn_table *ct, struct conn *c)
{
	struct conn_key in, out;
	int rc;

	conn_key_of(c, CONN_DIR_IN, &in);
	rc = conn_add_key(ct, &in, c);
	if (rc < 0)
		goto err;
	if (c->flags & CONN_F_OUT) {
		conn_key_of(c, CONN_DIR_OUT, &out);
		rc = conn_add_key(ct, &out, (void *)((uintptr_t)c | 1));
		if (rc < 0) {
			rte_hash_del_key(ct->h, &in);
			goto err;
		}
	}
	c->flags |= CONN_F_HASHED;
	c->expires = conn_clock(ct) +
		     conn_state_timeout(ct->tmo, c->proto, c->state);
	conn_wheel_file(ct, c);
	conn_evl_update(ct, c);
	ct->st.created++;
	ct->st.conns++;
	return 0;
err:
	return rc;
}

void
conn_put(struct conn_table *ct, struct conn *c)
{
	conn_obj_put(ct, c);
}

uint8_t
conn_tcp_event(struct conn_table *ct, struct conn *c, unsigned int dir,
	       uint8_t tcp_flags)
{
	unsigned int tab, ev;

	if (tcp_flags & RTE_TCP_RST_FLAG)
		ev = EV_RST;
	else if (tcp_flags & RTE_TCP_SYN_FLAG)
		ev = EV_SYN;
	else if (tcp_flags & RTE_TCP_FIN_FLAG)
		ev = EV_FIN;
	else if (tcp_flags & RTE_TCP_ACK_FLAG)
		ev = EV_ACK;
	else {
		conn_touch(ct, c);
		return c->state;
	}
	tab = (c->flags & CONN_F_OUT) ? dir : 2;
	conn_set_state(ct, c, tcp_states[tab][ev][c->state % CONN_S_MAX]);
	return c->state;
}

bool
conn_tcp_seq(struct conn *c, unsigned int dir, uint8_t tcp_flags, uint32_t seq,
	     uint32_t len)
{
	uint16_t known = (uint16_t)(CONN_F_SEQ_IN << dir),
		 *top = &c->seq_hi[dir];
	uint32_t end = seq + len + !!(tcp_flags & RTE_TCP_SYN_FLAG) +
		       !!(tcp_flags & RTE_TCP_FIN_FLAG);
	int16_t d;

	if ((tcp_flags & RTE_TCP_SYN_FLAG) &&
	    (!(c->flags & known) || c->state == CONN_S_NONE ||
	     c->state == CONN_S_SYN_SENT || c->state == CONN_S_SYN_RECV)) {
		*top = (uint16_t)(end >> CONN_SEQ_SHIFT);
		c->flags |= known;
		return true;
	}
	if (!(c->flags & known))
		return true;
	d = (int16_t)((uint16_t)(seq >> CONN_SEQ_SHIFT) - *top);
	if (d < -CONN_SEQ_BEHIND || d > CONN_SEQ_AHEAD)
		return false;
	d = (int16_t)((uint16_t)(end >> CONN_SEQ_SHIFT) - *top);
	if (d > 0 && !(tcp_flags & RTE_TCP_RST_FLAG))
		*top = (uint16_t)(end >> CONN_SEQ_SHIFT);
	return true;
}

/* ---- stats and dumps --------------------------------------------------- */

void
conn_get_stats(const struct conn_table *ct, struct conn_table_stats *st)
{
	*st = ct->st;
}

uint32_t
conn_dump_chunk(struct conn_table *ct, uint32_t *next, struct conn_info *out,
		uint32_t max)
{
	uint32_t now = conn_clock(ct), n = 0;
	const void *key;
	void *d;

	while (n < max) {
		int32_t rc = rte_hash_iterate(ct->h, &key, &d, next);
		const struct conn *c;

		if (rc < 0) {
			*next = UINT32_MAX;
			break;
		}
		if ((uintptr_t)d & 1)
			continue; /* every connection once: by its in entry */
		c = d;
		if (c->flags & CONN_F_TEMPLATE)
			continue;
		out[n++] = (struct conn_info){
			.proto = c->proto,
			.mode = c->mode,
			.state = c->state,
			.flags = c->flags,
			.caddr = c->caddr,
			.vaddr = c->vaddr,
			.laddr = c->laddr,
			.baddr = c->baddr,
			.cport = c->cport,
			.vport = c->vport,
			.lport = c->lport,
			.bport = c->bport,
			.expires_s = (int32_t)(c->expires - now) > 0
					     ? c->expires - now
					     : 0,
		};
	}
	return n;
}
