/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Persistence templates (IPVS's "persistent" services): objects of the
 * connection array keyed by (proto, client address, VIP, vport) with the
 * template marker, remembering a client's backend for svc->persist
 * seconds; connections scheduled through one hold a reference that keeps
 * it alive (conn_expire re-arms a referenced template). See conn.h.
 */
#include "conn.h"
#include "conn_priv.h"

struct conn *
conn_tmpl_get(struct conn_table *ct, uint8_t proto, uint32_t caddr,
	      uint32_t vaddr, uint16_t vport)
{
	struct conn_key k;
	unsigned int dir;

	conn_tmpl_key(&k, proto, caddr, vaddr, vport);
	return conn_lookup(ct, &k, &dir);
}

int
conn_tmpl_insert(struct conn_table *ct, struct conn *t, uint32_t persist)
{
	struct conn_key k;
	int rc;

	conn_tmpl_key(&k, t->proto, t->caddr, t->vaddr, t->vport);
	rc = conn_add_key(ct, &k, t);
	if (rc < 0) {
		conn_obj_put(ct, t);
		return rc;
	}
	t->flags |= CONN_F_TEMPLATE | CONN_F_HASHED;
	t->persist = persist;
	t->expires = conn_clock(ct) + persist;
	conn_wheel_file(ct, t);
	ct->st.conns++;
	ct->st.templates++;
	return 0;
}

void
conn_tmpl_bind(struct conn_table *ct, struct conn *c, struct conn *t)
{
	c->tmpl = conn_idx(ct, t);
	t->refcnt++;
	conn_touch(ct, t);
}
