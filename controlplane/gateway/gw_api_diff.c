/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl api diff (gw_api_priv.h): a line diff of two route texts in the
 * unified format. The common head and tail are set aside; between them a
 * longest common subsequence (a table of 16-bit cells, at most
 * DIFF_MAX_CELLS, else everything removed then added) gives the edit
 * script, printed in hunks with DIFF_CONTEXT lines of context.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_priv.h"
#include "edgelb/lbmsg.h"
#include "edgelb/util.h"

#define DIFF_CONTEXT   3
#define DIFF_MAX_CELLS (4u * 1024 * 1024)

struct lines {
	const char **p;
	size_t *len;
	size_t n;
};

static int
split_lines(const char *t, struct lines *l)
{
	size_t cap = 1;

	for (const char *c = t; *c != '\0'; c++)
		cap += *c == '\n';
	l->p = calloc(cap, sizeof(*l->p));
	l->len = calloc(cap, sizeof(*l->len));
	l->n = 0;
	if (l->p == NULL || l->len == NULL)
		return -ENOMEM;
	while (*t != '\0') {
		const char *nl = strchr(t, '\n');
		size_t n = nl != NULL ? (size_t)(nl - t) : strlen(t);

		l->p[l->n] = t;
		l->len[l->n++] = n;
		t += n + (nl != NULL ? 1 : 0);
	}
	return 0;
}

static bool
line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] &&
	       memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

/* One line of the edit script: ' ' both, '-' only a, '+' only b. */
struct op {
	char kind;
	size_t i, j; /* line in a / b (the next one for the other side) */
};

/*
 * The edit script from a to b: the common head and tail, and between them
 * a longest common subsequence (or, beyond DIFF_MAX_CELLS, all removed
 * then all added).
 */
static int
edit_script(const struct lines *a, const struct lines *b, struct op **out,
	    size_t *nout)
{
	size_t pre = 0, suf = 0, na, nb, k = 0, i, j;
	uint16_t *t = NULL;
	struct op *ops;

	while (pre < a->n && pre < b->n && line_eq(a, pre, b, pre))
		pre++;
	while (suf < a->n - pre && suf < b->n - pre &&
	       line_eq(a, a->n - 1 - suf, b, b->n - 1 - suf))
		suf++;
	na = a->n - pre - suf;
	nb = b->n - pre - suf;
	ops = calloc(a->n + b->n + 1, sizeof(*ops));
	if (ops == NULL)
		return -ENOMEM;
	for (i = 0; i < pre; i++)
		ops[k++] = (struct op){ ' ', i, i };
	if (na > 0 && nb > 0 && (na + 1) * (nb + 1) <= DIFF_MAX_CELLS &&
	    na < UINT16_MAX && nb < UINT16_MAX)
		t = calloc((na + 1) * (nb + 1), sizeof(*t));
	if (t != NULL) {
		/* t[i][j]: LCS length of a[pre+i..] and b[pre+j..] */
#define T(x, y) t[(x) * (nb + 1) + (y)]
		for (i = na; i-- > 0;)
			for (j = nb; j-- > 0;)
				T(i, j) = line_eq(a, pre + i, b, pre + j)
						  ? T(i + 1, j + 1) + 1
						  : (T(i + 1, j) >= T(i, j + 1)
							     ? T(i + 1, j)
							     : T(i, j + 1));
		i = j = 0;
		while (i < na || j < nb) {
			if (i < na && j < nb &&
			    line_eq(a, pre + i, b, pre + j)) {
				ops[k++] = (struct op){ ' ', pre + i++,
							pre + j++ };
			} else if (i < na &&
				   (j == nb || T(i + 1, j) >= T(i, j + 1))) {
				ops[k++] =
					(struct op){ '-', pre + i++, pre + j };
			} else {
				ops[k++] =
					(struct op){ '+', pre + i, pre + j++ };
			}
		}
#undef T
		free(t);
	} else {
		for (i = 0; i < na; i++)
			ops[k++] = (struct op){ '-', pre + i, pre };
		for (j = 0; j < nb; j++)
			ops[k++] = (struct op){ '+', pre + na, pre + j };
	}
	for (i = 0; i < suf; i++)
		ops[k++] = (struct op){ ' ', pre + na + i, pre + nb + i };
	*out = ops;
	*nout = k;
	return 0;
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool full;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

/* Unified-diff hunks (3 lines of context) of ops into b. */
static void
hunks(const struct op *ops, size_t n, const struct lines *a,
      const struct lines *b, struct sbuf *sb)
{
	size_t s = 0;

	while (s < n) {
		size_t first, last, e, ca = 0, cb = 0;

		while (s < n && ops[s].kind == ' ')
			s++;
		if (s == n)
			break;
		/* the hunk: changes closer than 2 * context join */
		first = s > DIFF_CONTEXT ? s - DIFF_CONTEXT : 0;
		last = s;
		for (e = s; e < n; e++) {
			if (ops[e].kind != ' ')
				last = e;
			else if (e - last > 2 * DIFF_CONTEXT)
				break;
		}
		e = last + DIFF_CONTEXT + 1 < n ? last + DIFF_CONTEXT + 1 : n;
		for (size_t k = first; k < e; k++) {
			ca += ops[k].kind != '+';
			cb += ops[k].kind != '-';
		}
		sb_add(sb, "@@ -%zu,%zu +%zu,%zu @@\n",
		       ca ? ops[first].i + 1 : ops[first].i, ca,
		       cb ? ops[first].j + 1 : ops[first].j, cb);
		for (size_t k = first; k < e; k++) {
			const struct lines *l = ops[k].kind == '+' ? b : a;
			size_t x = ops[k].kind == '+' ? ops[k].j : ops[k].i;

			sb_add(sb, "%c%.*s\n", ops[k].kind, (int)l->len[x],
			       l->p[x]);
		}
		s = e;
	}
}

int
gw_api_diff(const char *old, const char *new, const char *label_a,
	    const char *label_b, char **out, char *err, size_t errlen)
{
	struct lines a = { 0 }, b = { 0 };
	struct op *ops = NULL;
	struct sbuf sb = { 0 };
	size_t nops = 0;
	int rc;

	*out = NULL;
	rc = split_lines(old, &a);
	if (rc == 0)
		rc = split_lines(new, &b);
	if (rc == 0)
		rc = edit_script(&a, &b, &ops, &nops);
	sb.cap = LBMSG_MOD_DATA_MAX / 2;
	sb.p = rc == 0 ? malloc(sb.cap) : NULL;
	if (rc == 0 && sb.p == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		lb_errf(err, errlen, rc, "out of memory");
		goto out;
	}
	sb.p[0] = '\0';
	if (strcmp(old, new) != 0) {
		sb_add(&sb, "--- %s\n+++ %s\n", label_a, label_b);
		hunks(ops, nops, &a, &b, &sb);
	}
	if (sb.full) {
		rc = lb_errf(err, errlen, -EMSGSIZE,
			     "the diff is larger than one reply (%u bytes)",
			     LBMSG_MOD_DATA_MAX / 2);
		goto out;
	}
	*out = sb.p;
	sb.p = NULL;
out:
	free(sb.p);
	free(ops);
	free(a.p);
	free(a.len);
	free(b.p);
	free(b.len);
	return rc;
}
