/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte-string keyed hash map (see svcmap.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "svcmap.h"

struct slot {
	void *v; /* NULL = empty */
	uint32_t hash;
	uint8_t len;
	uint8_t key[SVCMAP_KEY_MAX];
};

struct svcmap {
	struct slot *s;
	size_t cap; /* power of two */
	size_t n;
};

size_t
svcmap_svc_key(uint8_t proto, const struct lb_addr *vip, uint16_t vport,
	       uint8_t out[SVCMAP_KEY_MAX])
{
	size_t alen = lb_addr_len(vip);

	out[0] = proto;
	out[1] = (uint8_t)(vport >> 8);
	out[2] = (uint8_t)vport;
	out[3] = (uint8_t)vip->family;
	memcpy(out + 4, vip->bytes, alen);
	return 4 + alen;
}

static uint32_t
hash_of(const uint8_t *k, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ k[i]) * 16777619u;
	return h ^ (h >> 15);
}

struct svcmap *
svcmap_new(void)
{
	return calloc(1, sizeof(struct svcmap));
}

void
svcmap_free(struct svcmap *m)
{
	if (m == NULL)
		return;
	free(m->s);
	free(m);
}

void
svcmap_clear(struct svcmap *m)
{
	if (m->cap)
		memset(m->s, 0, m->cap * sizeof(*m->s));
	m->n = 0;
}

size_t
svcmap_count(const struct svcmap *m)
{
	return m->n;
}

/* The slot holding key, or the empty slot where it would go. */
static struct slot *
find(const struct svcmap *m, const void *key, size_t len, uint32_t h)
{
	size_t i = h & (m->cap - 1);

	for (;; i = (i + 1) & (m->cap - 1)) {
		struct slot *s = &m->s[i];

		if (s->v == NULL || (s->hash == h && s->len == len &&
				     memcmp(s->key, key, len) == 0))
			return s;
	}
}

void *
svcmap_get(const struct svcmap *m, const void *key, size_t len)
{
	if (m->n == 0 || len > SVCMAP_KEY_MAX)
		return NULL;
	return find(m, key, len, hash_of(key, len))->v;
}

static int
grow(struct svcmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct slot *ns = calloc(cap, sizeof(*ns)), *old = m->s;
	size_t ocap = m->cap;

	if (ns == NULL)
		return -ENOMEM;
	m->s = ns;
	m->cap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].v != NULL)
			*find(m, old[i].key, old[i].len, old[i].hash) = old[i];
	free(old);
	return 0;
}

int
svcmap_put(struct svcmap *m, const void *key, size_t len, void *v)
{
	uint32_t h = hash_of(key, len);
	struct slot *s;

	if (v == NULL || len > SVCMAP_KEY_MAX)
		return -EINVAL;
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -ENOMEM;
	s = find(m, key, len, h);
	if (s->v == NULL) {
		s->hash = h;
		s->len = (uint8_t)len;
		memcpy(s->key, key, len);
		m->n++;
	}
	s->v = v;
	return 0;
}

void *
svcmap_del(struct svcmap *m, const void *key, size_t len)
{
	struct slot *s;
	size_t i, j;
	void *v;

	if (m->n == 0 || len > SVCMAP_KEY_MAX)
		return NULL;
	s = find(m, key, len, hash_of(key, len));
	v = s->v;
	if (v == NULL)
		return NULL;
	/* backward shift: move later members of the run into the hole */
	i = (size_t)(s - m->s);
	for (j = (i + 1) & (m->cap - 1); m->s[j].v != NULL;
	     j = (j + 1) & (m->cap - 1)) {
		size_t home = m->s[j].hash & (m->cap - 1);

		/* j may move to i unless its home lies cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j)
			   : (home <= i && home > j)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].v = NULL;
	m->n--;
	return v;
}

void
svcmap_foreach(const struct svcmap *m, void (*fn)(void *arg, void *v),
	       void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].v != NULL)
			fn(arg, m->s[i].v);
}
