/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The route text of an API version (gw_api.h): [route NAME], [upstream
 * NAME] and [filter NAME] sections (a version brings its own filters;
 * its routes' `filters` and a degrade filter's `fallback_route` name the
 * version's own). Parsed with inih, the
 * INI file's own dialect, through a line reader that counts lines so that
 * every error names one, into a struct gw_conf, either as written (to
 * validate it) or with its names prefixed "api.API."; and what a stage
 * serves (gw_api_stage_conf): every live version's text so prefixed,
 * with the deprecation headers added or, retired, 410 answers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ini.h>
#include <cJSON.h>

#include "gw_api_priv.h"
#include "gw_filter_priv.h"
#include "edgelb/util.h"

/* Where a section or a key of it is, to place errors of gw_table_build. */
struct sect_line {
	char kind[16]; /* "route", "upstream" or "filter" */
	char name[GW_NAME_MAX];
	char key[32]; /* "": the section header */
	int line;
};

struct text_parser {
	struct gw_conf *conf;
	const char *api;
	bool prefix;
	const char *pos, *end;
	int line;
	int syntax_line; /* a line the reader flagged */
	int header_line; /* of the current section header */
	char section[GW_NAME_MAX + 16];
	bool have_key;
	struct sect_line *sects;
	size_t nsects, cap;
	char err[320];
	int rc;
};

static void perr(struct text_parser *p, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
perr(struct text_parser *p, int rc, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (p->rc < 0)
		return; /* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "line %d: %s", p->line, what);
	p->rc = rc;
}

static int
note_line(struct text_parser *p, const char *kind, const char *name,
	  const char *key, int line)
{
	struct sect_line *s;

	for (size_t i = 0; i < p->nsects; i++)
		if (strcmp(p->sects[i].kind, kind) == 0 &&
		    strcmp(p->sects[i].name, name) == 0 &&
		    strcmp(p->sects[i].key, key) == 0)
			return 0; /* the first place of each */
	if (lb_array_grow(&p->sects, &p->cap, p->nsects + 1,
			  sizeof(*p->sects)) < 0)
		return -ENOMEM;
	s = &p->sects[p->nsects++];
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->line = line;
	return 0;
}

/* inih reader over the text: one line per call, counted. */
static char *
read_line(char *str, int num, void *stream)
{
	struct text_parser *p = stream;
	const char *nl, *s;
	size_t len;

	if (p->pos >= p->end)
		return NULL;
	nl = memchr(p->pos, '\n', (size_t)(p->end - p->pos));
	len = nl != NULL ? (size_t)(nl - p->pos) : (size_t)(p->end - p->pos);
	s = p->pos;
	p->pos += len + (nl != NULL ? 1 : 0);
	p->line++;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	if (len + 3 > (size_t)num) {
		perr(p, -EINVAL, "line longer than %d characters", num - 3);
		goto blank;
	}
	if (memchr(s, '\0', len) != NULL) {
		perr(p, -EINVAL, "NUL byte");
		goto blank;
	}
	memcpy(str, s, len);
	str[len] = '\0';
	s = str + strspn(str, " \t");
	if (*s == '[') {
		const char *end = strchr(s, ']');
		char body[sizeof(p->section)];
		size_t n;

		p->have_key = false;
		if (end == NULL) {
			p->section[0] = '\0';
			perr(p, -EINVAL, "section header without ']'");
			goto blank;
		}
		n = (size_t)(end - s - 1);
		if (n >= sizeof(body)) {
			perr(p, -EINVAL, "section name too long");
			goto blank;
		}
		memcpy(body, s + 1, n);
		body[n] = '\0';
		/* inih trims the header itself; we keep it for messages */
		snprintf(p->section, sizeof(p->section), "%s", body);
		p->header_line = p->line;
	} else if (*s != '\0' && *s != ';' && *s != '#' &&
		   !(isspace((unsigned char)str[0]) && p->have_key) &&
		   strpbrk(s, "=:") == NULL) {
		perr(p, -EINVAL, "syntax error: expected 'key = value'");
		goto blank;
	}
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
blank:
	p->syntax_line = p->line;
	snprintf(str, (size_t)num, "\n");
	return str;
}

/* Split "route NAME" into kind and name (both trimmed). */
static int
split_section(const char *section, char *kind, size_t kcap, char *name,
	      size_t ncap)
{
	const char *s = section + strspn(section, " \t");
	size_t kl = strcspn(s, " \t");
	const char *n = s + kl;
	size_t nl;

	n += strspn(n, " \t");
	nl = strlen(n);
	while (nl > 0 && isspace((unsigned char)n[nl - 1]))
		nl--;
	if (kl == 0 || kl >= kcap || nl >= ncap)
		return -EINVAL;
	memcpy(kind, s, kl);
	kind[kl] = '\0';
	memcpy(name, n, nl);
	name[nl] = '\0';
	return 0;
}

/* "a, b" as "api.API.a, api.API.b" into out. 0 or -ENOSPC. */
static int
prefix_list(const char *api, const char *list, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (const char *s = list; *s != '\0';) {
		size_t n;
		int k;

		s += strspn(s, ", \t");
		n = strcspn(s, ", \t");
		if (n == 0)
			break;
		k = snprintf(out + o, cap - o, "%s%s%s.%.*s", o > 0 ? ", " : "",
			     GW_API_NS, api, (int)n, s);
		if (k < 0 || (size_t)k >= cap - o)
			return -ENOSPC;
		o += (size_t)k;
		s += n;
	}
	return 0;
}

static int
on_key(void *user, const char *isection, const char *key, const char *value)
{
	struct text_parser *p = user;
	/* inih cuts section names at 50 bytes: the reader's copy is whole */
	const char *section = p->section;
	char kind[16], name[GW_NAME_MAX + 8], full[GW_NAME_MAX + 8];
	char pval[GW_MAX_FILTERS * (GW_NAME_MAX + 2) + 8], err[256];
	const char *v = value;
	int rc;

	(void)isection;
	p->have_key = true;
	if (section[0] == '\0') {
		perr(p, -EINVAL, "%s: key outside of any section", key);
		return 1;
	}
	if (split_section(section, kind, sizeof(kind), name, sizeof(name)) <
		    0 ||
	    (strcmp(kind, "route") != 0 && strcmp(kind, "upstream") != 0 &&
	     strcmp(kind, "filter") != 0)) {
		perr(p, -EINVAL,
		     "[%.40s]: only [route NAME], [upstream NAME] and [filter "
		     "NAME] sections",
		     section);
		return 1;
	}
	if (name[0] == '\0') {
		perr(p, -EINVAL, "[%s]: section needs a name", kind);
		return 1;
	}
	if (strncmp(name, GW_API_NS, strlen(GW_API_NS)) == 0) {
		perr(p, -EINVAL,
		     "[%s %s]: names beginning with \"%s\" are "
		     "reserved",
		     kind, name, GW_API_NS);
		return 1;
	}
	if (strlen(GW_API_NS) + strlen(p->api) + 1 + strlen(name) >=
	    GW_NAME_MAX) {
		perr(p, -EINVAL,
		     "[%s %s]: name too long: \"%s%s.%s\" must fit in %d "
		     "bytes",
		     kind, name, GW_API_NS, p->api, name, GW_NAME_MAX - 1);
		return 1;
	}
	if (note_line(p, kind, name, "", p->header_line) < 0 ||
	    note_line(p, kind, name, key, p->line) < 0) {
		perr(p, -ENOMEM, "out of memory");
		return 1;
	}
	if (p->prefix) {
		snprintf(full, sizeof(full), "%s%s.%s", GW_API_NS, p->api,
			 name);
		if ((strcmp(kind, "route") == 0 &&
		     strcmp(key, "upstream") == 0) ||
		    (strcmp(kind, "filter") == 0 &&
		     strcmp(key, "fallback_route") == 0)) {
			snprintf(pval, sizeof(pval), "%s%s.%s", GW_API_NS,
				 p->api, value);
			v = pval;
		} else if (strcmp(kind, "route") == 0 &&
			   strcmp(key, "filters") == 0) {
			if (prefix_list(p->api, value, pval, sizeof(pval)) <
			    0) {
				perr(p, -EINVAL, "[route %s] filters: too long",
				     name);
				return 1;
			}
			v = pval;
		}
	} else {
		snprintf(full, sizeof(full), "%s", name);
	}
	rc = gw_conf_key(p->conf, kind, full, key, v, err, sizeof(err));
	if (rc < 0)
		perr(p, rc, "%s", err);
	return 1; /* our own errors: inih's count only syntax */
}

/* The line of the section that an error of gw_table_build names. */
static int
line_of(const struct text_parser *p, const char *err)
{
	int best = 0;
	size_t bestlen = 0;

	for (size_t i = 0; i < p->nsects; i++) {
		char pfx[GW_NAME_MAX + 64];
		const struct sect_line *sl = &p->sects[i];
		size_t n = (size_t)snprintf(
			pfx, sizeof(pfx), "%s %s:%s%s%s", sl->kind, sl->name,
			sl->key[0] != '\0' ? " " : "", sl->key,
			sl->key[0] != '\0' ? ":" : "");

		if (strncmp(err, pfx, n) == 0 && n > bestlen) {
			best = p->sects[i].line;
			bestlen = n;
		}
	}
	return best;
}

int
gw_api_text_parse(const char *api, const char *text, bool prefix,
		  struct gw_conf *c, char *err, size_t errlen)
{
	size_t len = strlen(text);
	struct text_parser p = {
		.conf = c,
		.api = api,
		.prefix = prefix,
		.pos = text,
		.end = text + len,
	};
	struct gw_table *t;
	char berr[256];
	int rc, line;

	if (len > GW_API_TEXT_MAX)
		return lb_errf(err, errlen, -E2BIG,
			       "route text of %zu bytes, at most %d", len,
			       GW_API_TEXT_MAX);
	rc = ini_parse_stream(read_line, &p, on_key, &p);
	if (p.rc == 0 && rc > 0 && rc != p.syntax_line) {
		p.line = rc;
		perr(&p, -EINVAL, "syntax error");
	} else if (p.rc == 0 && rc < 0) {
		perr(&p, -ENOMEM, "out of memory");
	}
	if (p.rc == 0 && c->nroutes == 0)
		perr(&p, -EINVAL, "no [route NAME] section");
	for (size_t i = 0; p.rc == 0 && i < c->nroutes; i++) {
		char where[GW_NAME_MAX + 16];

		if (c->routes[i].nresp_hdrs + 2 <= GW_MAX_HDR_RW)
			continue;
		snprintf(where, sizeof(where), "route %s:", c->routes[i].name);
		snprintf(p.err, sizeof(p.err),
			 "line %d: route %s: at most %d response_header_* "
			 "keys (two are kept for Deprecation and Sunset)",
			 line_of(&p, where), c->routes[i].name,
			 GW_MAX_HDR_RW - 2);
		p.rc = -EINVAL;
	}
	if (p.rc == 0 && !prefix) {
		t = gw_table_build(c, berr, sizeof(berr));
		if (t == NULL) {
			p.rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
			line = line_of(&p, berr);
			if (line > 0)
				snprintf(p.err, sizeof(p.err), "line %d: %s",
					 line, berr);
			else
				snprintf(p.err, sizeof(p.err), "%s", berr);
		} else {
			gw_table_put(t);
		}
	}
	free(p.sects);
	if (p.rc < 0)
		return lb_errf(err, errlen, p.rc, "%s", p.err);
	return 0;
}

int
gw_api_text_filters(const char *api, const char *text, struct cJSON *arr,
		    char *err, size_t errlen)
{
	size_t pl = strlen(GW_API_NS) + strlen(api) + 1;
	struct gw_conf c;
	int rc;

	gw_conf_init(&c);
	rc = gw_api_text_parse(api, text, true, &c, err, errlen);
	for (size_t i = 0; rc == 0 && i < c.nfilters; i++) {
		const struct gw_filter_conf *f = &c.filters[i];
		cJSON *o = cJSON_CreateObject(), *routes = NULL;

		if (o != NULL && !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (o == NULL ||
		    cJSON_AddStringToObject(o, "name", f->name + pl) == NULL ||
		    cJSON_AddStringToObject(o, "type", f->ops->type) == NULL ||
		    (routes = cJSON_AddArrayToObject(o, "routes")) == NULL) {
			rc = lb_errf(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		for (size_t r = 0; r < c.nroutes && rc == 0; r++)
			for (size_t k = 0; k < c.routes[r].nfilters; k++) {
				cJSON *n;

				if (strcmp(c.routes[r].filters[k], f->name) !=
				    0)
					continue;
				n = cJSON_CreateString(c.routes[r].name + pl);
				if (n != NULL &&
				    !cJSON_AddItemToArray(routes, n)) {
					cJSON_Delete(n);
					n = NULL;
				}
				if (n == NULL)
					rc = lb_errf(err, errlen, -ENOMEM,
						     "out of memory");
				break;
			}
	}
	gw_conf_fini(&c);
	return rc;
}

int
gw_api_validate(const char *api, const char *text, char *err, size_t errlen)
{
	struct gw_conf c;
	int rc;

	rc = gw_api_check_name(api, err, errlen);
	if (rc < 0)
		return rc;
	gw_conf_init(&c);
	rc = gw_api_text_parse(api, text, false, &c, err, errlen);
	gw_conf_fini(&c);
	if (rc < 0)
		return rc;
	/* and as it will be served: the "api.NAME." prefix may make a
	 * name or an upstream reference too long */
	gw_conf_init(&c);
	rc = gw_api_text_parse(api, text, true, &c, err, errlen);
	gw_conf_fini(&c);
	return rc;
}

/* RFC 9110 IMF-fixdate. */
void
gw_api_http_date(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed",
					  "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec" };

	gmtime_r(&tt, &tm);
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 wd[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- what a stage serves ----------------------------------------------- */

static int
add_resp_hdr(struct gw_route_conf *r, const char *name, const char *value)
{
	struct gw_hdr_rw *h;

	if (r->nresp_hdrs >= GW_MAX_HDR_RW)
		return -ENOSPC;
	h = &r->resp_hdrs[r->nresp_hdrs++];
	h->op = GW_HDR_SET;
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->value, sizeof(h->value), "%s", value);
	return 0;
}

/* The routes n0.. of c came from one live version: mark them. */
static int
dress(struct gw_conf *c, size_t n0, size_t u0, const char *api, uint32_t v,
      int64_t deprecated, int64_t sunset, int64_t retired, char *err,
      size_t errlen)
{
	char depr[32], sun[40];

	if (retired != 0) {
		/* 410 answers: the API's upstreams are not needed any more */
		for (size_t i = u0; i < c->nups; i++)
			gw_upstream_conf_init(&c->ups[i], c->ups[i].name);
		c->nups = u0;
		for (size_t i = n0; i < c->nroutes; i++) {
			struct gw_route_conf *r = &c->routes[i];

			r->action = GW_ACT_DIRECT;
			r->status = 410;
			r->upstream[0] = '\0';
			snprintf(r->body, sizeof(r->body),
				 "{\"error\":\"gone\",\"api\":\"%s\","
				 "\"version\":%u,\"retired\":%lld}\n",
				 api, v, (long long)retired);
			snprintf(r->content_type, sizeof(r->content_type),
				 "application/json");
		}
		return 0;
	}
	if (deprecated == 0)
		return 0;
	snprintf(depr, sizeof(depr), "@%lld", (long long)deprecated);
	if (sunset != 0)
		gw_api_http_date(sunset, sun, sizeof(sun));
	for (size_t i = n0; i < c->nroutes; i++)
		if (add_resp_hdr(&c->routes[i], "Deprecation", depr) < 0 ||
		    (sunset != 0 &&
		     add_resp_hdr(&c->routes[i], "Sunset", sun) < 0))
			return lb_errf(err, errlen, -ENOSPC,
				       "API %s: route %s: no room for the "
				       "deprecation headers",
				       api, c->routes[i].name);
	return 0;
}

int
gw_api_stage_conf(struct gw_api_store *s, const char *stage, struct gw_conf *c,
		  char *err, size_t errlen)
{
	size_t nsl = strlen(GW_API_NS);
	sqlite3_stmt *q;
	int rc;

	for (size_t i = 0; i < c->nroutes; i++)
		if (strncmp(c->routes[i].name, GW_API_NS, nsl) == 0)
			return lb_errf(err, errlen, -EINVAL,
				       "route %s: names beginning with \"%s\" "
				       "are reserved for lbctl api",
				       c->routes[i].name, GW_API_NS);
	for (size_t i = 0; i < c->nups; i++)
		if (strncmp(c->ups[i].name, GW_API_NS, nsl) == 0)
			return lb_errf(err, errlen, -EINVAL,
				       "upstream %s: names beginning with "
				       "\"%s\" are reserved for lbctl api",
				       c->ups[i].name, GW_API_NS);
	q = gw_api_stmt(s, Q_STAGE);
	sqlite3_bind_text(q, 1, stage, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *api = (const char *)sqlite3_column_text(q, 0);
		const char *text = (const char *)sqlite3_column_text(q, 1);
		size_t n0 = c->nroutes, u0 = c->nups;
		char perr[256];
		int e;

		e = gw_api_text_parse(api, text, true, c, perr, sizeof(perr));
		if (e == 0)
			e = dress(c, n0, u0, api,
				  (uint32_t)sqlite3_column_int64(q, 5),
				  sqlite3_column_int64(q, 2),
				  sqlite3_column_int64(q, 3),
				  sqlite3_column_int64(q, 4), perr,
				  sizeof(perr));
		if (e < 0) {
			lb_errf(err, errlen, e, "API %s on stage %s: %s", api,
				stage, perr);
			sqlite3_reset(q);
			return e;
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return gw_api_db_err(s, rc, err, errlen,
				     "read the live versions");
	return 0;
}
