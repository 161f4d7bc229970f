/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking: per-worker table, TCP state machine, timer wheel,
 * persistence templates, dumps. See conn.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>

#include "edgelb/lbmsg.h"
#include "conn.h"
#include "dp.h"
#include "fwd.h"

/*
 * Wheel links are indices into objs. A connection's prev is CONN_NIL when
 * it is on no list, LINK_HEAD | slot when it heads wheel[slot], LINK_PEND
 * when it heads pend, else the index of the connection before it.
 */
#define LINK_HEAD 0x80000000u
#define LINK_PEND 0xfffffffeu

struct conn_table {
	struct rte_hash *h;
	struct conn *objs; /* [size] */
	uint32_t *free;	   /* [size] stack of free indices */
	uint32_t nfree;
	uint32_t size;
	const struct dpconf_timeouts *tmo;
	conn_clock_fn clock;
	void *clock_arg;
	conn_unlink_fn unlink;
	void *unlink_arg;
	uint32_t budget;
	uint32_t now;  /* TSC clock: seconds at the last conn_tick() */
	uint32_t gen;  /* inserts so far: invalidates bulk lookup misses */
	uint32_t cur;  /* next tick of the wheel to process */
	uint32_t pend; /* the rest of tick cur - 1, being processed */
	struct conn_table_stats st;
	uint32_t wheel[CONN_WHEEL_SLOTS];
};

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

/* ---- clock and wheel ------------------------------------------------------- */

void
conn_tick(struct conn_table *ct)
{
	if (ct->clock == NULL)
		ct->now = (uint32_t)(rte_get_tsc_cycles() / rte_get_tsc_hz());
}

uint32_t
conn_now(const struct conn_table *ct)
{
	return ct->clock == NULL ? ct->now : ct->clock(ct->clock_arg);
}

static uint32_t
idx_of(const struct conn_table *ct, const struct conn *c)
{
	return (uint32_t)(c - ct->objs);
}

/* The link that holds the index of whatever follows prev. */
static uint32_t *
link_after(struct conn_table *ct, uint32_t prev)
{
	if (prev == LINK_PEND)
		return &ct->pend;
	if (prev & LINK_HEAD)
		return &ct->wheel[prev & ~LINK_HEAD];
	return &ct->objs[prev].next;
}

static void
wheel_unlink(struct conn_table *ct, struct conn *c)
{
	if (c->prev == CONN_NIL)
		return;
	*link_after(ct, c->prev) = c->next;
	if (c->next != CONN_NIL)
		ct->objs[c->next].prev = c->prev;
	c->next = CONN_NIL;
	c->prev = CONN_NIL;
}

/* File c in the slot of its deadline, as seen from tick ct->cur. */
static void
wheel_file(struct conn_table *ct, struct conn *c)
{
	uint32_t tick = c->expires, slot;

	if ((int32_t)(tick - ct->cur) < 0)
		tick = ct->cur;
	else if (tick - ct->cur >= CONN_WHEEL_SLOTS)
		tick = ct->cur + CONN_WHEEL_SLOTS - 1;
	slot = tick % CONN_WHEEL_SLOTS;
	c->next = ct->wheel[slot];
	if (c->next != CONN_NIL)
		ct->objs[c->next].prev = idx_of(ct, c);
	ct->wheel[slot] = idx_of(ct, c);
	c->prev = LINK_HEAD | slot;
}

/*
 * New deadline for c. A later one is left for the wheel to notice; an
 * earlier one re-files c now so that it does not expire late.
 */
static void
set_expires(struct conn_table *ct, struct conn *c, uint32_t expires)
{
	bool earlier = (int32_t)(expires - c->expires) < 0;

	c->expires = expires;
	if (earlier || c->prev == CONN_NIL) {
		wheel_unlink(ct, c);
		wheel_file(ct, c);
	}
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

static void
tmpl_key(struct conn_key *k, uint8_t proto, uint32_t caddr, uint32_t vaddr,
	 uint16_t vport)
{
	memset(k, 0, sizeof(*k));
	k->saddr = caddr;
	k->daddr = vaddr;
	k->dport = vport;
	k->proto = proto;
	k->tmpl = 1;
}

static void
unhash(struct conn_table *ct, struct conn *c)
{
	struct conn_key k;

	if (!(c->flags & CONN_F_HASHED))
		return;
	c->flags &= (uint16_t)~CONN_F_HASHED;
	if (c->flags & CONN_F_TEMPLATE) {
		tmpl_key(&k, c->proto, c->caddr, c->vaddr, c->vport);
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

static void
obj_put(struct conn_table *ct, struct conn *c)
{
	ct->free[ct->nfree++] = idx_of(ct, c);
}

static void
conn_free(struct conn_table *ct, struct conn *c)
{
	unhash(ct, c);
	wheel_unlink(ct, c);
	if (c->flags & CONN_F_TEMPLATE)
		ct->st.templates--;
	ct->st.conns--;
	ct->st.expired++;
	obj_put(ct, c);
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
	if (ct->objs == NULL || ct->free == NULL)
		goto err;
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
	ct->cur = conn_now(ct);
	return ct;
err:
	errno = ct->h == NULL && rte_errno == EEXIST ? EEXIST : ENOMEM;
	rte_hash_free(ct->h);
	rte_free(ct->objs);
	rte_free(ct->free);
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
				conn_free(ct, c);
			}
		}
	while (ct->pend != CONN_NIL)
		conn_free(ct, &ct->objs[ct->pend]);
	rte_hash_free(ct->h);
	rte_free(ct->objs);
	rte_free(ct->free);
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

	if (past(ct, c, conn_now(ct))) {
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
	/* a hit holds while its connection is hashed (never freed then) */
	c = (const struct conn *)((uintptr_t)h->d & ~(uintptr_t)1);
	if (!(c->flags & CONN_F_HASHED))
		return conn_lookup(ct, k, dir);
	return found(ct, h->d, dir);
}

struct conn *
conn_alloc(struct conn_table *ct)
{
	struct conn *c;

	if (ct->nfree == 0) {
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

static int
add_key(struct conn_table *ct, const struct conn_key *k, void *data)
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
	rc = add_key(ct, &in, c);
	if (rc < 0)
		goto err;
	if (c->flags & CONN_F_OUT) {
		conn_key_of(c, CONN_DIR_OUT, &out);
		rc = add_key(ct, &out, (void *)((uintptr_t)c | 1));
		if (rc < 0) {
			rte_hash_del_key(ct->h, &in);
			goto err;
		}
	}
	c->flags |= CONN_F_HASHED;
	c->expires =
		conn_now(ct) + conn_state_timeout(ct->tmo, c->proto, c->state);
	wheel_file(ct, c);
	ct->st.created++;
	ct->st.conns++;
	return 0;
err:
	return rc;
}

void
conn_put(struct conn_table *ct, struct conn *c)
{
	obj_put(ct, c);
}

/* Seconds c lives after activity now. */
static uint32_t
timeout_of(const struct conn_table *ct, const struct conn *c)
{
	if (c->flags & CONN_F_TEMPLATE)
		return c->persist;
	return conn_state_timeout(ct->tmo, c->proto, c->state);
}

void
conn_set_state(struct conn_table *ct, struct conn *c, uint8_t state)
{
	c->state = state;
	set_expires(ct, c, conn_now(ct) + timeout_of(ct, c));
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

void
conn_touch(struct conn_table *ct, struct conn *c)
{
	set_expires(ct, c, conn_now(ct) + timeout_of(ct, c));
}

void
conn_kill(struct conn_table *ct, struct conn *c)
{
	unhash(ct, c);
	set_expires(ct, c, conn_now(ct));
}

unsigned int
conn_expire(struct conn_table *ct)
{
	unsigned int done = 0;
	uint32_t now;

	conn_tick(ct);
	now = conn_now(ct);
	if (ct->st.conns == 0) {
		ct->cur = now + 1;
		return 0;
	}
	while (done < ct->budget) {
		struct conn *c;

		if (ct->pend == CONN_NIL) {
			uint32_t slot = ct->cur % CONN_WHEEL_SLOTS;

			if ((int32_t)(now - ct->cur) < 0)
				break;
			ct->pend = ct->wheel[slot];
			ct->wheel[slot] = CONN_NIL;
			if (ct->pend != CONN_NIL)
				ct->objs[ct->pend].prev = LINK_PEND;
			ct->cur++;
			continue;
		}
		c = &ct->objs[ct->pend];
		done++;
		wheel_unlink(ct, c);
		if ((c->flags & CONN_F_TEMPLATE) && c->refcnt > 0) {
			/* a template lives while connections use it */
			if ((int32_t)(now - c->expires) >= 0)
				c->expires = now + c->persist;
			wheel_file(ct, c);
			continue;
		}
		if ((int32_t)(now - c->expires) < 0) {
			/* the deadline moved later since c was filed */
			wheel_file(ct, c);
			continue;
		}
		conn_free(ct, c);
	}
	return done;
}

/* ---- templates --------------------------------------------------------- */

struct conn *
conn_tmpl_get(struct conn_table *ct, uint8_t proto, uint32_t caddr,
	      uint32_t vaddr, uint16_t vport)
{
	struct conn_key k;
	unsigned int dir;

	tmpl_key(&k, proto, caddr, vaddr, vport);
	return conn_lookup(ct, &k, &dir);
}

int
conn_tmpl_insert(struct conn_table *ct, struct conn *t, uint32_t persist)
{
	struct conn_key k;
	int rc;

	tmpl_key(&k, t->proto, t->caddr, t->vaddr, t->vport);
	rc = add_key(ct, &k, t);
	if (rc < 0) {
		obj_put(ct, t);
		return rc;
	}
	t->flags |= CONN_F_TEMPLATE | CONN_F_HASHED;
	t->persist = persist;
	t->expires = conn_now(ct) + persist;
	wheel_file(ct, t);
	ct->st.conns++;
	ct->st.templates++;
	return 0;
}

void
conn_tmpl_bind(struct conn_table *ct, struct conn *c, struct conn *t)
{
	c->tmpl = idx_of(ct, t);
	t->refcnt++;
	conn_touch(ct, t);
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
	uint32_t now = conn_now(ct), n = 0;
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

/* Does an address filter attr (absent: any) name v4? */
static bool
match_addr(struct nlattr *nla, uint32_t v4)
{
	struct lb_addr a;

	return nla == NULL || (lbmsg_get_addr(nla, &a) == 0 &&
			       a.family == AF_INET && a.v4 == v4);
}

/* Does a port filter (absent: any) name the network-order port? */
static bool
match_port(struct nlattr *nla, uint16_t be_port)
{
	return nla == NULL || nla_get_u16(nla) == rte_be_to_cpu_16(be_port);
}

/* Every filter the request carries (see docs/protocol.md, CONN_GET). */
static bool
dump_match(struct nlattr **tb, const struct conn_info *ci)
{
	if (tb[LB_ATTR_PROTO] != NULL &&
	    nla_get_u8(tb[LB_ATTR_PROTO]) != ci->proto)
		return false;
	if (tb[LB_ATTR_STATE] != NULL &&
	    nla_get_u8(tb[LB_ATTR_STATE]) != ci->state)
		return false;
	return match_addr(tb[LB_ATTR_VIP], ci->vaddr) &&
	       match_port(tb[LB_ATTR_VPORT], ci->vport) &&
	       match_addr(tb[LB_ATTR_CADDR], ci->caddr) &&
	       match_port(tb[LB_ATTR_CPORT], ci->cport) &&
	       match_addr(tb[LB_ATTR_LADDR], ci->laddr) &&
	       match_port(tb[LB_ATTR_LPORT], ci->lport) &&
	       match_addr(tb[LB_ATTR_ADDR], ci->baddr) &&
	       match_port(tb[LB_ATTR_PORT], ci->bport);
}

/* The dump part of one connection; NULL on ENOMEM/EMSGSIZE. */
static struct nl_msg *
dump_one(const struct nlmsghdr *req, const struct conn_info *ci, uint16_t lcore)
{
	struct nl_msg *m = lbmsg_new(req->nlmsg_type, NLM_F_MULTI);
	struct lb_addr v = { .family = AF_INET, .v4 = ci->vaddr };
	struct lb_addr ca = { .family = AF_INET, .v4 = ci->caddr };
	struct lb_addr la = { .family = AF_INET, .v4 = ci->laddr };
	struct lb_addr ba = { .family = AF_INET, .v4 = ci->baddr };

	if (m == NULL)
		return NULL;
	nlmsg_hdr(m)->nlmsg_seq = req->nlmsg_seq;
	nlmsg_hdr(m)->nlmsg_pid = req->nlmsg_pid;
	if (lbmsg_put_svc_key(m, ci->proto, &v, rte_be_to_cpu_16(ci->vport)) <
		    0 ||
	    lbmsg_put_addr(m, LB_ATTR_CADDR, &ca) < 0 ||
	    nla_put_u16(m, LB_ATTR_CPORT, rte_be_to_cpu_16(ci->cport)) < 0 ||
	    lbmsg_put_addr(m, LB_ATTR_LADDR, &la) < 0 ||
	    nla_put_u16(m, LB_ATTR_LPORT, rte_be_to_cpu_16(ci->lport)) < 0 ||
	    lbmsg_put_addr(m, LB_ATTR_ADDR, &ba) < 0 ||
	    nla_put_u16(m, LB_ATTR_PORT, rte_be_to_cpu_16(ci->bport)) < 0 ||
	    nla_put_u8(m, LB_ATTR_STATE, ci->state) < 0 ||
	    nla_put_u32(m, LB_ATTR_EXPIRES, ci->expires_s) < 0 ||
	    nla_put_u16(m, LB_ATTR_LCORE, lcore) < 0 ||
	    nla_put_u32(m, LB_ATTR_FLAGS, ci->flags) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

/* ---- CONN_GET: incremental dumps ------------------------------------------ */

enum dump_phase { DUMP_PARTS, DUMP_DONE, DUMP_ACK, DUMP_END };

struct conn_dump {
	int fd; /* our dup of the client's socket */
	enum dump_phase phase;
	int error; /* for NLMSG_DONE and the ack */
	char errmsg[LBMSG_ERRMSG_MAX];
	unsigned int worker;	/* dp->workers index being read */
	uint32_t next;		/* its table iterator; UINT32_MAX: done */
	uint32_t n, pos;	/* ci[0..n) copied, ci[pos] next to look at */
	struct nl_msg *pending; /* built, not yet taken by the socket */
	uint64_t stalled_ms;	/* since when the socket refuses, or 0 */
	uint64_t parts;
	unsigned int fetches;		    /* chunks read in this step */
	struct nlattr *tb[LB_ATTR_MAX + 1]; /* into req (filters) */
	struct conn_info ci[FWD_DUMP_CHUNK];
	struct nlmsghdr *req; /* a copy of the request */
};

void
conn_dump_free(struct conn_dump *d)
{
	if (d == NULL)
		return;
	if (d->pending != NULL)
		nlmsg_free(d->pending);
	if (d->fd >= 0)
		close(d->fd);
	free(d->req);
	rte_free(d);
}

struct conn_dump *
conn_dump_start(struct dp_ctx *dp, struct lbmsg_req *req)
{
	uint32_t len = req->nlh->nlmsg_len;
	char err[LBMSG_ERRMSG_MAX];
	struct conn_dump *d;

	if (dp->fwd == NULL) {
		lbmsg_req_errf(req, -EOPNOTSUPP,
			       "connection tracking is not running");
		errno = EOPNOTSUPP;
		return NULL;
	}
	d = rte_zmalloc("conn_dump", sizeof(*d), 0);
	if (d == NULL)
		goto nomem;
	d->fd = -1;
	d->req = malloc(len);
	if (d->req == NULL)
		goto nomem;
	memcpy(d->req, req->nlh, len);
	/* validated once already: cannot fail, but check anyway */
	if (lbmsg_parse(d->req, len, d->tb, err, sizeof(err)) < 0) {
		lbmsg_req_errf(req, -EINVAL, "%s", err);
		conn_dump_free(d);
		errno = EINVAL;
		return NULL;
	}
	d->fd = fcntl(req->fd, F_DUPFD_CLOEXEC, 0);
	if (d->fd < 0) {
		lbmsg_req_errf(req, -errno, "dup: %s", strerror(errno));
		conn_dump_free(d);
		return NULL;
	}
	return d;
nomem:
	conn_dump_free(d);
	lbmsg_req_errf(req, -ENOMEM, "out of memory");
	errno = ENOMEM;
	return NULL;
}

/* Fetch the next chunk of connections: 0, or -errno (explained in d). */
static int
dump_fetch(struct dp_ctx *dp, struct conn_dump *d)
{
	struct nlattr *lc = d->tb[LB_ATTR_LCORE];
	const struct conn_info *ci;
	int n;

	while (d->worker < dp->nworkers &&
	       (d->next == UINT32_MAX ||
		(lc != NULL &&
		 nla_get_u16(lc) != dp->workers[d->worker].lcore))) {
		d->worker++;
		d->next = 0;
	}
	if (d->worker == dp->nworkers)
		return 1; /* all read */
	n = fwd_dump_request(dp, d->worker, &d->next, &ci, 1000);
	if (n < 0) {
		snprintf(d->errmsg, sizeof(d->errmsg),
			 "worker %u did not answer", d->worker);
		return n;
	}
	memcpy(d->ci, ci, (size_t)n * sizeof(*ci));
	d->n = (uint32_t)n;
	d->pos = 0;
	return 0;
}

/* The next message to send, or NULL at the end (or ENOMEM: d->error). */
static struct nl_msg *
dump_next(struct dp_ctx *dp, struct conn_dump *d)
{
	struct nl_msg *m;
	int rc;

	while (d->phase == DUMP_PARTS) {
		if (d->pos < d->n) {
			const struct conn_info *ci = &d->ci[d->pos++];

			if (!dump_match(d->tb, ci))
				continue;
			m = dump_one(d->req, ci,
				     (uint16_t)dp->workers[d->worker].lcore);
			if (m != NULL)
				return m;
			d->error = -ENOMEM;
			snprintf(d->errmsg, sizeof(d->errmsg),
				 "cannot build a part");
			d->phase = DUMP_DONE;
			break;
		}
		/* bounded work per step even when filters pass nothing */
		if (d->fetches++ == CONN_DUMP_CHUNKS)
			return NULL;
		rc = dump_fetch(dp, d);
		if (rc == 1)
			d->phase = DUMP_DONE;
		else if (rc < 0) {
			d->error = rc;
			d->phase = DUMP_DONE;
		}
	}
	if (d->phase == DUMP_DONE) {
		d->phase = DUMP_ACK;
		return lbmsg_done_msg(d->req, d->error);
	}
	if (d->phase == DUMP_ACK) {
		d->phase = DUMP_END;
		return lbmsg_ack_msg(d->req, d->error,
				     d->error < 0 ? d->errmsg : NULL);
	}
	return NULL;
}

int
conn_dump_step(struct dp_ctx *dp, struct conn_dump *d, uint64_t now_ms)
{
	d->fetches = 0;
	for (unsigned int sent = 0; sent < CONN_DUMP_BUDGET;) {
		struct nlmsghdr *h;
		ssize_t n;

		if (d->pending == NULL) {
			if (d->phase == DUMP_END)
				return CONN_DUMP_FINISHED;
			d->pending = dump_next(dp, d);
			if (d->pending == NULL && d->phase == DUMP_PARTS)
				return CONN_DUMP_MORE; /* chunk budget spent */
			if (d->pending == NULL)
				return d->phase == DUMP_END ? CONN_DUMP_FINISHED
							    : CONN_DUMP_FAILED;
		}
		h = nlmsg_hdr(d->pending);
		n = send(d->fd, h, h->nlmsg_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (d->stalled_ms == 0)
				d->stalled_ms = now_ms;
			if (now_ms - d->stalled_ms > CONN_DUMP_STALL_MS) {
				/* no room even for an error: hang up, the
				 * server sees the EOF and drops the client */
				shutdown(d->fd, SHUT_RDWR);
				return CONN_DUMP_FAILED;
			}
			return CONN_DUMP_BLOCKED;
		}
		if (n != (ssize_t)h->nlmsg_len)
			return CONN_DUMP_FAILED; /* the client is gone */
		nlmsg_free(d->pending);
		d->pending = NULL;
		d->stalled_ms = 0;
		d->parts++;
		sent++;
	}
	return CONN_DUMP_MORE;
}

int
conn_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req)
{
	if (dp->fwd == NULL)
		return 0;
	for (unsigned int i = 0; i < dp->nworkers; i++) {
		const struct fwd_worker *fw = &dp->fwd->w[i];
		struct nl_msg *m = lbmsg_req_part(req);
		struct conn_table_stats st;
		struct nlattr *cnt;

		if (m == NULL)
			return -ENOMEM;
		/* plain reads of the owner's counters, like other stats */
		conn_get_stats(fw->ct, &st);
		if (nla_put_u8(m, LB_ATTR_STATS_KIND, LB_STATS_CONNTAB) < 0 ||
		    nla_put_u16(m, LB_ATTR_LCORE,
				(uint16_t)dp->workers[i].lcore) < 0 ||
		    (cnt = nla_nest_start(m, LB_ATTR_COUNTERS)) == NULL ||
		    lbmsg_put_counter(m, "conns", st.conns - st.templates) <
			    0 ||
		    lbmsg_put_counter(m, "templates", st.templates) < 0 ||
		    lbmsg_put_counter(m, "created_total", st.created) < 0 ||
		    lbmsg_put_counter(m, "expired_total", st.expired) < 0 ||
		    lbmsg_put_counter(m, "conn_table_full_total",
				      st.table_full) < 0 ||
		    lbmsg_put_counter(m, "handoff_in_total", fw->handoff_in) <
			    0 ||
		    lbmsg_put_counter(m, "handoff_out_total", fw->handoff_out) <
			    0) {
			nlmsg_free(m);
			return -EMSGSIZE;
		}
		nla_nest_end(m, cnt);
		int rc = lbmsg_req_send(req, m);

		if (rc < 0)
			return rc;
	}
	return 0;
}
