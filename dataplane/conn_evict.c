/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection eviction: room for a new connection when the table is full.
 * Two lists per table, beside the array (struct conn_evl):
 *
 *   CONN_EVL_SYN  TCP connections in SYN_RECV, in order of entry; a
 *                 connection leaves it at once when its state changes.
 *   CONN_EVL_UDP  UDP flows, in order of (re)queueing. A packet does not
 *                 touch the list (it would cost the forwarding path two
 *                 more cache lines); the list is kept lazily, like the
 *                 timer wheel: stamp holds the flow's deadline when it
 *                 was queued, and a head whose deadline moved since was
 *                 active meanwhile and is queued again at the tail.
 *
 * conn_evict() takes the SYN list's head, else looks at up to
 * CONN_EVICT_SCAN UDP heads and evicts the first one not touched since it
 * was queued: O(1) per new connection, and the UDP flow evicted is one
 * idle for about the longest (exactly the longest when no timeout changed).
 * See conn.h.
 */
#include <stdbool.h>

#include <rte_common.h>

#include "conn.h"
#include "conn_priv.h"

static unsigned int
list_of(const struct conn *c)
{
	return c->proto == IPPROTO_UDP ? CONN_EVL_UDP : CONN_EVL_SYN;
}

static bool
evictable(const struct conn *c)
{
	if ((c->flags & (CONN_F_TEMPLATE | CONN_F_HASHED)) != CONN_F_HASHED)
		return false;
	return c->proto == IPPROTO_UDP ||
	       (c->proto == IPPROTO_TCP && c->state == CONN_S_SYN_RECV);
}

static void
push_tail(struct conn_table *ct, struct conn *c)
{
	unsigned int l = list_of(c);
	uint32_t i = conn_idx(ct, c), t = ct->evl_tail[l];

	ct->evl[i] = (struct conn_evl){ .next = CONN_NIL,
					.prev = t,
					.stamp = c->expires };
	if (t == CONN_NIL)
		ct->evl_head[l] = i;
	else
		ct->evl[t].next = i;
	ct->evl_tail[l] = i;
	c->flags |= CONN_F_EVL;
}

void
conn_evl_unlink(struct conn_table *ct, struct conn *c)
{
	unsigned int l = list_of(c);
	uint32_t i = conn_idx(ct, c);
	struct conn_evl *e = &ct->evl[i];

	if (!(c->flags & CONN_F_EVL))
		return;
	if (e->prev == CONN_NIL)
		ct->evl_head[l] = e->next;
	else
		ct->evl[e->prev].next = e->next;
	if (e->next == CONN_NIL)
		ct->evl_tail[l] = e->prev;
	else
		ct->evl[e->next].prev = e->prev;
	c->flags &= (uint16_t)~CONN_F_EVL;
}

void
conn_evl_update(struct conn_table *ct, struct conn *c)
{
	bool on = !!(c->flags & CONN_F_EVL);

	if (evictable(c) == on)
		return;
	if (on)
		conn_evl_unlink(ct, c);
	else
		push_tail(ct, c);
}

/* Free c now for a new connection: unhashed (unlink callback), off the
 * wheel, its object back on the free stack. */
static void
evict(struct conn_table *ct, struct conn *c, uint64_t *counter)
{
	conn_unhash(ct, c); /* takes it off its eviction list too */
	conn_wheel_unlink(ct, c);
	ct->evict_gen = ++ct->gen; /* earlier bulk lookup results are stale */
	ct->st.conns--;
	(*counter)++;
	conn_obj_put(ct, c);
}

bool
conn_evict(struct conn_table *ct)
{
	uint32_t i = ct->evl_head[CONN_EVL_SYN];

	if (i != CONN_NIL) {
		evict(ct, &ct->objs[i], &ct->st.evicted_syn);
		return true;
	}
	for (unsigned int n = 0; n < CONN_EVICT_SCAN; n++) {
		struct conn *c;

		i = ct->evl_head[CONN_EVL_UDP];
		if (i == CONN_NIL)
			return false;
		c = &ct->objs[i];
		if (c->expires == ct->evl[i].stamp) {
			evict(ct, c, &ct->st.evicted_udp);
			return true;
		}
		/* active since it was queued: to the back of the line */
		conn_evl_unlink(ct, c);
		push_tail(ct, c);
	}
	return false;
}
