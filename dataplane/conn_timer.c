/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Connection timers: the wheel of CONN_WHEEL_SLOTS one-second ticks that
 * holds every connection and template by deadline, the deadline updates
 * activity and state changes make, and conn_expire(), the bounded walk
 * that frees what is past its deadline. See conn.h for the design.
 */
#include <stdbool.h>

#include <rte_common.h>

#include "conn.h"
#include "conn_priv.h"

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

void
conn_wheel_unlink(struct conn_table *ct, struct conn *c)
{
	if (c->prev == CONN_NIL)
		return;
	*link_after(ct, c->prev) = c->next;
	if (c->next != CONN_NIL)
		ct->objs[c->next].prev = c->prev;
	c->next = CONN_NIL;
	c->prev = CONN_NIL;
}

void
conn_wheel_file(struct conn_table *ct, struct conn *c)
{
	uint32_t tick = c->expires, slot;

	if ((int32_t)(tick - ct->cur) < 0)
		tick = ct->cur;
	else if (tick - ct->cur >= CONN_WHEEL_SLOTS)
		tick = ct->cur + CONN_WHEEL_SLOTS - 1;
	slot = tick % CONN_WHEEL_SLOTS;
	c->next = ct->wheel[slot];
	if (c->next != CONN_NIL)
		ct->objs[c->next].prev = conn_idx(ct, c);
	ct->wheel[slot] = conn_idx(ct, c);
	c->prev = LINK_HEAD | slot;
}

/*
 * New deadline for c. A later one is left for the wheel to notice; an
 * earlier one re-files c now so that it does not expire late.
 */
void
conn_set_expires(struct conn_table *ct, struct conn *c, uint32_t expires)
{
	bool earlier = (int32_t)(expires - c->expires) < 0;

	c->expires = expires;
	if (earlier || c->prev == CONN_NIL) {
		conn_wheel_unlink(ct, c);
		conn_wheel_file(ct, c);
	}
}

/* Seconds c lives after activity now. */
uint32_t
conn_timeout_of(const struct conn_table *ct, const struct conn *c)
{
	if (c->flags & CONN_F_TEMPLATE)
		return c->persist;
	return conn_state_timeout(ct->tmo, c->proto, c->state);
}

void
conn_set_state(struct conn_table *ct, struct conn *c, uint8_t state)
{
	c->state = state;
	conn_set_expires(ct, c, conn_clock(ct) + conn_timeout_of(ct, c));
	conn_evl_update(ct, c);
}

void
conn_touch(struct conn_table *ct, struct conn *c)
{
	conn_set_expires(ct, c, conn_clock(ct) + conn_timeout_of(ct, c));
}

void
conn_kill(struct conn_table *ct, struct conn *c)
{
	conn_unhash(ct, c);
	conn_set_expires(ct, c, conn_clock(ct));
}

unsigned int
conn_expire(struct conn_table *ct)
{
	unsigned int done = 0;
	uint32_t now;

	conn_tick(ct);
	now = conn_clock(ct);
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
		conn_wheel_unlink(ct, c);
		if ((c->flags & CONN_F_TEMPLATE) && c->refcnt > 0) {
			/* a template lives while connections use it */
			if ((int32_t)(now - c->expires) >= 0)
				c->expires = now + c->persist;
			conn_wheel_file(ct, c);
			continue;
		}
		if ((int32_t)(now - c->expires) < 0) {
			/* the deadline moved later since c was filed */
			conn_wheel_file(ct, c);
			continue;
		}
		conn_free_obj(ct, c);
	}
	return done;
}
