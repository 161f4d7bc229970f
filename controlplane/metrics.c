/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Metrics registry and Prometheus text format 0.0.4 rendering (see
 * metrics.h). Series are identified by their rendered label string
 * (`a="x",b="y"`), kept in insertion order and found through a hash table
 * per family, so a scrape of many thousands of dataplane series stays
 * linear.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "edgelb/util.h"

#define MAX_LABELS 16

struct metrics_series {
	struct metrics_series *next;	  /* insertion order */
	struct metrics_series *hash_next; /* bucket chain */
	struct metrics_family *fam;
	char *labels; /* rendered, without braces; "" for none */
	double value; /* counter/gauge value; histogram sum */
	uint64_t count;
	uint64_t *buckets; /* histogram: non-cumulative counts per bound */
};

struct metrics_family {
	struct metrics_family *next;
	char *name;
	char *help;
	enum metrics_type type;
	double *bounds;
	size_t nbounds;
	struct metrics_series *first, *last;
	struct metrics_series **hash;
	size_t nhash;
	size_t nseries;
};

struct collector {
	metrics_collect_fn fn;
	void *arg;
};

struct metrics {
	struct metrics_family *first, *last;
	struct collector *collectors;
	size_t ncollectors, cap_collectors;
	uint64_t errors;
	const struct metrics *parent; /* scrape registries: names to avoid */
};

bool
metrics_name_valid(const char *name)
{
	if (name == NULL ||
	    !(isalpha((unsigned char)*name) || *name == '_' || *name == ':'))
		return false;
	for (name++; *name; name++)
		if (!isalnum((unsigned char)*name) && *name != '_' &&
		    *name != ':')
			return false;
	return true;
}

bool
metrics_label_name_valid(const char *name)
{
	if (name == NULL || !(isalpha((unsigned char)*name) || *name == '_') ||
	    strncmp(name, "__", 2) == 0)
		return false;
	for (name++; *name; name++)
		if (!isalnum((unsigned char)*name) && *name != '_')
			return false;
	return true;
}

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void
series_free(struct metrics_series *s)
{
	free(s->labels);
	free(s->buckets);
	free(s);
}

void
metrics_family_clear(struct metrics_family *f)
{
	struct metrics_series *s, *n;

	for (s = f->first; s != NULL; s = n) {
		n = s->next;
		series_free(s);
	}
	f->first = f->last = NULL;
	memset(f->hash, 0, f->nhash * sizeof(*f->hash));
	f->nseries = 0;
}

static void
family_free(struct metrics_family *f)
{
	metrics_family_clear(f);
	free(f->hash);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void
metrics_free(struct metrics *m)
{
	struct metrics_family *f, *n;

	if (m == NULL)
		return;
	for (f = m->first; f != NULL; f = n) {
		n = f->next;
		family_free(f);
	}
	free(m->collectors);
	free(m);
}

static struct metrics_family *
find_family(const struct metrics *m, const char *name)
{
	for (struct metrics_family *f = m->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static size_t
str_len_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

struct metrics_family *
metrics_family(struct metrics *m, const char *name, const char *help,
	       enum metrics_type type, const double *bounds, size_t nbounds)
{
	struct metrics_family *f;

	if (!metrics_name_valid(name) ||
	    (type == METRICS_COUNTER && !str_len_suffix(name, "_total")) ||
	    (m->parent != NULL && find_family(m->parent, name) != NULL))
		goto inval;
	f = find_family(m, name);
	if (f != NULL) {
		if (f->type != type)
			goto inval;
		return f;
	}
	if (type == METRICS_HISTOGRAM) {
		for (size_t i = 0; i < nbounds; i++)
			if (isnan(bounds[i]) || isinf(bounds[i]) ||
			    (i > 0 && bounds[i] <= bounds[i - 1]))
				goto inval;
	} else {
		nbounds = 0;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	f->nhash = 16;
	f->hash = calloc(f->nhash, sizeof(*f->hash));
	f->bounds = nbounds ? malloc(nbounds * sizeof(double)) : NULL;
	if (f->name == NULL || f->help == NULL || f->hash == NULL ||
	    (nbounds && f->bounds == NULL)) {
		family_free(f);
		errno = ENOMEM;
		return NULL;
	}
	if (nbounds)
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
	f->nbounds = nbounds;
	f->type = type;
	if (m->last != NULL)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
	return f;
inval:
	m->errors++;
	errno = EINVAL;
	return NULL;
}

void
metrics_escape_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void
metrics_escape_help(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int
rehash(struct metrics_family *f)
{
	size_t n = f->nhash * 2;
	struct metrics_series **h = calloc(n, sizeof(*h));

	if (h == NULL)
		return -ENOMEM;
	for (struct metrics_series *s = f->first; s != NULL; s = s->next) {
		size_t b = hash_str(s->labels) & (n - 1);

		s->hash_next = h[b];
		h[b] = s;
	}
	free(f->hash);
	f->hash = h;
	f->nhash = n;
	return 0;
}

struct metrics_series *
metrics_series(struct metrics_family *f, const struct metrics_label *labels,
	       size_t nlabels)
{
	struct metrics_series *s;
	char *key = NULL;
	size_t klen = 0, b;
	FILE *fp;

	if (f == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (nlabels > MAX_LABELS)
		goto inval;
	for (size_t i = 0; i < nlabels; i++)
		if (!metrics_label_name_valid(labels[i].name) ||
		    labels[i].value == NULL ||
		    (f->type == METRICS_HISTOGRAM &&
		     strcmp(labels[i].name, "le") == 0))
			goto inval;
	fp = open_memstream(&key, &klen);
	if (fp == NULL)
		return NULL;
	for (size_t i = 0; i < nlabels; i++) {
		fprintf(fp, "%s%s=\"", i ? "," : "", labels[i].name);
		metrics_escape_label(fp, labels[i].value);
		fputc('"', fp);
	}
	if (fclose(fp) != 0) {
		free(key);
		errno = ENOMEM;
		return NULL;
	}
	b = hash_str(key) & (f->nhash - 1);
	for (s = f->hash[b]; s != NULL; s = s->hash_next)
		if (strcmp(s->labels, key) == 0) {
			free(key);
			return s;
		}
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    (f->nbounds &&
	     (s->buckets = calloc(f->nbounds, sizeof(uint64_t))) == NULL)) {
		free(s);
		free(key);
		errno = ENOMEM;
		return NULL;
	}
	s->labels = key;
	s->fam = f;
	s->hash_next = f->hash[b];
	f->hash[b] = s;
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	if (++f->nseries > f->nhash)
		rehash(f); /* on failure chains just grow longer */
	return s;
inval:
	errno = EINVAL;
	return NULL;
}

void
metrics_add(struct metrics_series *s, double v)
{
	if (s != NULL && v >= 0)
		s->value += v;
}

void
metrics_set(struct metrics_series *s, double v)
{
	if (s != NULL)
		s->value = v;
}

void
metrics_observe(struct metrics_series *s, double v)
{
	if (s == NULL || isnan(v))
		return;
	s->value += v;
	s->count++;
	for (size_t i = 0; i < s->fam->nbounds; i++)
		if (v <= s->fam->bounds[i]) {
			s->buckets[i]++;
			break;
		}
}

double
metrics_value(const struct metrics_series *s)
{
	return s->value;
}

uint64_t
metrics_hist_count(const struct metrics_series *s)
{
	return s->count;
}

void
metrics_put(struct metrics *m, const char *name, const char *help,
	    enum metrics_type type, const struct metrics_label *labels,
	    size_t nlabels, double v)
{
	struct metrics_family *f = metrics_family(m, name, help, type, NULL, 0);
	struct metrics_series *s = metrics_series(f, labels, nlabels);

	if (s == NULL) {
		if (f != NULL)
			m->errors++;
		return;
	}
	if (type == METRICS_COUNTER)
		metrics_add(s, v);
	else if (type == METRICS_GAUGE)
		metrics_set(s, v);
	else
		metrics_observe(s, v);
}

int
metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	if (lb_array_grow(&m->collectors, &m->cap_collectors,
			  m->ncollectors + 1, sizeof(*m->collectors)) < 0)
		return -ENOMEM;
	m->collectors[m->ncollectors].fn = fn;
	m->collectors[m->ncollectors].arg = arg;
	m->ncollectors++;
	return 0;
}

void
metrics_del_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	for (size_t i = 0; i < m->ncollectors; i++)
		if (m->collectors[i].fn == fn && m->collectors[i].arg == arg) {
			memmove(&m->collectors[i], &m->collectors[i + 1],
				(m->ncollectors - i - 1) *
					sizeof(m->collectors[0]));
			m->ncollectors--;
			return;
		}
}

static void
format_value(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "NaN");
	else if (isinf(v))
		snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, n, "%.0f", v);
	else {
		/* the shortest form that reads back as v */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, n, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

void
metrics_format_value(FILE *out, double v)
{
	char buf[64];

	format_value(buf, sizeof(buf), v);
	fputs(buf, out);
}

static void
render_sample(FILE *out, const char *name, const char *suffix,
	      const char *labels, const char *le, double v)
{
	fputs(name, out);
	fputs(suffix, out);
	if (labels[0] || le != NULL) {
		fputc('{', out);
		fputs(labels, out);
		if (le != NULL)
			fprintf(out, "%sle=\"%s\"", labels[0] ? "," : "", le);
		fputc('}', out);
	}
	fputc(' ', out);
	metrics_format_value(out, v);
	fputc('\n', out);
}

static void
render_family(FILE *out, const struct metrics_family *f)
{
	static const char *const types[] = {
		[METRICS_COUNTER] = "counter",
		[METRICS_GAUGE] = "gauge",
		[METRICS_HISTOGRAM] = "histogram",
	};

	if (f->first == NULL)
		return; /* no samples: say nothing */
	fprintf(out, "# HELP %s ", f->name);
	metrics_escape_help(out, f->help);
	fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (const struct metrics_series *s = f->first; s != NULL;
	     s = s->next) {
		uint64_t cum = 0;
		char le[64];

		if (f->type != METRICS_HISTOGRAM) {
			render_sample(out, f->name, "", s->labels, NULL,
				      s->value);
			continue;
		}
		for (size_t i = 0; i < f->nbounds; i++) {
			cum += s->buckets[i];
			format_value(le, sizeof(le), f->bounds[i]);
			render_sample(out, f->name, "_bucket", s->labels, le,
				      (double)cum);
		}
		render_sample(out, f->name, "_bucket", s->labels, "+Inf",
			      (double)s->count);
		render_sample(out, f->name, "_sum", s->labels, NULL, s->value);
		render_sample(out, f->name, "_count", s->labels, NULL,
			      (double)s->count);
	}
}

struct metrics *
metrics_scrape_new(const struct metrics *parent)
{
	struct metrics *m = metrics_new();

	if (m != NULL)
		m->parent = parent;
	return m;
}

static int
render(struct metrics *m, const struct metrics *extra, FILE *out)
{
	struct metrics *scrape = NULL;

	/* collectors first: they may also update registered series */
	if (m->ncollectors) {
		scrape = metrics_scrape_new(m);
		if (scrape == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < m->ncollectors; i++)
			m->collectors[i].fn(m->collectors[i].arg, scrape);
		m->errors += scrape->errors;
	}
	for (const struct metrics_family *f = m->first; f != NULL; f = f->next)
		render_family(out, f);
	if (scrape != NULL) {
		for (const struct metrics_family *f = scrape->first; f != NULL;
		     f = f->next)
			render_family(out, f);
		metrics_free(scrape);
	}
	if (extra != NULL) {
		m->errors += extra->errors;
		for (const struct metrics_family *f = extra->first; f != NULL;
		     f = f->next)
			render_family(out, f);
	}
	return ferror(out) ? -EIO : 0;
}

int
metrics_render(struct metrics *m, FILE *out)
{
	return render(m, NULL, out);
}

int
metrics_render_string_extra(struct metrics *m, const struct metrics *extra,
			    char **buf, size_t *len)
{
	FILE *fp = open_memstream(buf, len);
	int rc;

	if (fp == NULL)
		return -errno;
	rc = render(m, extra, fp);
	if (fclose(fp) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

int
metrics_render_string(struct metrics *m, char **buf, size_t *len)
{
	return metrics_render_string_extra(m, NULL, buf, len);
}

uint64_t
metrics_errors(const struct metrics *m)
{
	return m->errors;
}
