/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection tracking: per-worker table, TCP state machine, timer wheel,
 * persistence templates, dumps. See conn.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "edgelb/lbmsg.h"
#include "conn.h"
#include "dp.h"
#include "fwd.h"

struct conn_table {
	struct rte_hash *h;
	struct rte_mempool *mp;
	const struct dpconf_timeouts *tmo;
	conn_clock_fn clock;
	void *clock_arg;
	conn_unlink_fn unlink;
	void *unlink_arg;
	uint32_t budget;
	uint32_t cur;	   /* next tick of the wheel to process */
	struct conn *pend; /* the rest of tick cur - 1, being processed */
	struct conn_table_stats st;
	struct conn *wheel[CONN_WHEEL_SLOTS];
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

static uint32_t
tsc_clock(void *arg)
{
	RTE_SET_USED(arg);
	return (uint32_t)(rte_get_tsc_cycles() / rte_get_tsc_hz());
}

uint32_t
conn_now(const struct conn_table *ct)
{
	return ct->clock(ct->clock_arg);
}

static void
wheel_unlink(struct conn *c)
{
	if (c->pprev == NULL)
		return;
	*c->pprev = c->next;
	if (c->next != NULL)
		c->next->pprev = c->pprev;
	c->next = NULL;
	c->pprev = NULL;
}

/* File c in the slot of its deadline, as seen from tick ct->cur. */
static void
wheel_file(struct conn_table *ct, struct conn *c)
{
	uint32_t tick = c->expires;
	struct conn **head;

	if ((int32_t)(tick - ct->cur) < 0)
		tick = ct->cur;
	else if (tick - ct->cur >= CONN_WHEEL_SLOTS)
		tick = ct->cur + CONN_WHEEL_SLOTS - 1;
	head = &ct->wheel[tick % CONN_WHEEL_SLOTS];
	c->next = *head;
	if (c->next != NULL)
		c->next->pprev = &c->next;
	*head = c;
	c->pprev = head;
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
	if (earlier || c->pprev == NULL) {
		wheel_unlink(c);
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
	if (c->tmpl != NULL) {
		c->tmpl->refcnt--;
		c->tmpl = NULL;
	}
}

static void
conn_free(struct conn_table *ct, struct conn *c)
{
	unhash(ct, c);
	wheel_unlink(c);
	if (c->flags & CONN_F_TEMPLATE)
		ct->st.templates--;
	ct->st.conns--;
	ct->st.expired++;
	rte_mempool_put(ct->mp, c);
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
	snprintf(name, sizeof(name), "cm_%s", conf->name);
	ct->mp = rte_mempool_create(
		name, conf->size, sizeof(struct conn), 0, 0, NULL, NULL, NULL,
		NULL, conf->socket_id,
		RTE_MEMPOOL_F_SP_PUT | RTE_MEMPOOL_F_SC_GET |
			RTE_MEMPOOL_F_NO_CACHE_ALIGN | RTE_MEMPOOL_F_NO_SPREAD);
	if (ct->mp == NULL)
		goto err;
	ct->tmo = conf->tmo;
	ct->clock = conf->clock != NULL ? conf->clock : tsc_clock;
	ct->clock_arg = conf->clock_arg;
	ct->unlink = conf->unlink;
	ct->unlink_arg = conf->unlink_arg;
	ct->budget = conf->budget != 0 ? conf->budget : CONN_DEFAULT_BUDGET;
	ct->cur = conn_now(ct);
	return ct;
err:
	errno = rte_errno == EEXIST ? EEXIST : ENOMEM;
	rte_hash_free(ct->h);
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
			struct conn **pp = &ct->wheel[i];

			while (*pp != NULL) {
				struct conn *c = *pp;

				if (pass == 0 && (c->flags & CONN_F_TEMPLATE)) {
					pp = &c->next;
					continue;
				}
				conn_free(ct, c);
			}
		}
	while (ct->pend != NULL)
		conn_free(ct, ct->pend);
	rte_hash_free(ct->h);
	rte_mempool_free(ct->mp);
	rte_free(ct);
}

static bool
past(const struct conn_table *ct, const struct conn *c, uint32_t now)
{
	RTE_SET_USED(ct);
	return (int32_t)(now - c->expires) >= 0 &&
	       !((c->flags & CONN_F_TEMPLATE) && c->refcnt > 0);
}

struct conn *
conn_lookup(struct conn_table *ct, const struct conn_key *k, unsigned int *dir)
{
	void *d;
	struct conn *c;

	if (rte_hash_lookup_data(ct->h, k, &d) < 0)
		return NULL;
	c = (struct conn *)((uintptr_t)d & ~(uintptr_t)1);
	if (past(ct, c, conn_now(ct))) {
		conn_kill(ct, c);
		return NULL;
	}
	*dir = (unsigned int)((uintptr_t)d & 1);
	return c;
}

struct conn *
conn_alloc(struct conn_table *ct)
{
	void *o;

	if (rte_mempool_get(ct->mp, &o) != 0) {
		ct->st.table_full++;
		return NULL;
	}
	memset(o, 0, sizeof(struct conn));
	return o;
}

static int
add_key(struct conn_table *ct, const struct conn_key *k, void *data)
{
	int rc;

	if (rte_hash_lookup(ct->h, k) >= 0)
		return -EEXIST;
	rc = rte_hash_add_key_data(ct->h, k, data);
	return rc < 0 ? -ENOSPC : 0;
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
	c->timeout = conn_state_timeout(ct->tmo, c->proto, c->state);
	c->expires = conn_now(ct) + c->timeout;
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
	rte_mempool_put(ct->mp, c);
}

void
conn_set_state(struct conn_table *ct, struct conn *c, uint8_t state)
{
	c->state = state;
	c->timeout = conn_state_timeout(ct->tmo, c->proto, state);
	set_expires(ct, c, conn_now(ct) + c->timeout);
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

void
conn_touch(struct conn_table *ct, struct conn *c)
{
	set_expires(ct, c, conn_now(ct) + c->timeout);
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
	uint32_t now = conn_now(ct);
	unsigned int done = 0;

	if (ct->st.conns == 0) {
		ct->cur = now + 1;
		return 0;
	}
	while (done < ct->budget) {
		struct conn *c = ct->pend;

		if (c == NULL) {
			if ((int32_t)(now - ct->cur) < 0)
				break;
			ct->pend = ct->wheel[ct->cur % CONN_WHEEL_SLOTS];
			ct->wheel[ct->cur % CONN_WHEEL_SLOTS] = NULL;
			if (ct->pend != NULL)
				ct->pend->pprev = &ct->pend;
			ct->cur++;
			continue;
		}
		done++;
		wheel_unlink(c);
		if ((c->flags & CONN_F_TEMPLATE) && c->refcnt > 0) {
			/* a template lives while connections use it */
			if ((int32_t)(now - c->expires) >= 0)
				c->expires = now + c->timeout;
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
		rte_mempool_put(ct->mp, t);
		return rc;
	}
	t->flags |= CONN_F_TEMPLATE | CONN_F_HASHED;
	t->timeout = persist;
	t->expires = conn_now(ct) + persist;
	wheel_file(ct, t);
	ct->st.conns++;
	ct->st.templates++;
	return 0;
}

void
conn_tmpl_bind(struct conn_table *ct, struct conn *c, struct conn *t)
{
	c->tmpl = t;
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

static bool
dump_match(struct lbmsg_req *req, const struct conn_info *ci)
{
	struct nlattr **tb = req->tb;
	struct lb_addr a;

	if (tb[LB_ATTR_PROTO] != NULL &&
	    nla_get_u8(tb[LB_ATTR_PROTO]) != ci->proto)
		return false;
	if (tb[LB_ATTR_VPORT] != NULL &&
	    nla_get_u16(tb[LB_ATTR_VPORT]) != rte_be_to_cpu_16(ci->vport))
		return false;
	if (tb[LB_ATTR_VIP] != NULL &&
	    (lbmsg_get_addr(tb[LB_ATTR_VIP], &a) < 0 || a.family != AF_INET ||
	     a.v4 != ci->vaddr))
		return false;
	if (tb[LB_ATTR_CADDR] != NULL &&
	    (lbmsg_get_addr(tb[LB_ATTR_CADDR], &a) < 0 || a.family != AF_INET ||
	     a.v4 != ci->caddr))
		return false;
	return true;
}

static int
dump_one(struct lbmsg_req *req, const struct conn_info *ci, uint16_t lcore)
{
	struct nl_msg *m = lbmsg_req_part(req);
	struct lb_addr v = { .family = AF_INET, .v4 = ci->vaddr };
	struct lb_addr ca = { .family = AF_INET, .v4 = ci->caddr };
	struct lb_addr la = { .family = AF_INET, .v4 = ci->laddr };
	struct lb_addr ba = { .family = AF_INET, .v4 = ci->baddr };

	if (m == NULL)
		return -ENOMEM;
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
		return -EMSGSIZE;
	}
	return lbmsg_req_send(req, m);
}

int
conn_dump(struct dp_ctx *dp, struct lbmsg_req *req)
{
	if (dp->fwd == NULL)
		return lbmsg_req_errf(req, -EOPNOTSUPP,
				      "connection tracking is not running");
	for (unsigned int i = 0; i < dp->nworkers; i++) {
		uint32_t next = 0;

		while (next != UINT32_MAX) {
			const struct conn_info *ci;
			int n = fwd_dump_request(dp, i, &next, &ci, 1000);

			if (n < 0)
				return lbmsg_req_errf(req, n,
						      "worker %u did "
						      "not answer",
						      i);
			for (int j = 0; j < n; j++) {
				int rc;

				if (!dump_match(req, &ci[j]))
					continue;
				rc = dump_one(req, &ci[j],
					      (uint16_t)dp->workers[i].lcore);
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
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
