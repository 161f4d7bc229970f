/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration: the line reader, section and key dispatch,
 * error reporting, whole-file validation and the life cycle of a struct
 * cfg (see config.h for the contract). The value checks of each key live
 * in config_keys.c, the service list editing API and the state file in
 * config_svc.c.
 *
 * inih (Debian's build) does not pass line numbers to the handler, so the
 * file is fed to ini_parse_stream() through our own line reader, which
 * counts lines, notices section headers (inih does not report empty
 * sections) and flags syntax errors itself; the handler is always called
 * while the reader's line is current.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <ini.h>

#include "config.h"
#include "config_priv.h"
#include "edgelb/lbmsg.h"
#include "edgelb/log.h"
#include "edgelb/util.h"

/* ---- errors ------------------------------------------------------------ */

void
cfg_errors_add(struct cfg_errors *e, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (e == NULL)
		return;
	if (e->n >= CFG_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	if (lb_array_grow(&e->msg, &e->cap, e->n + 1, sizeof(*e->msg)) < 0) {
		e->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (m == NULL) {
		e->dropped++;
		return;
	}
	e->msg[e->n++] = m;
}

void
cfg_errors_print(const struct cfg_errors *e, FILE *out)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(out, "%s\n", e->msg[i]);
	if (e->dropped)
		fprintf(out, "(%zu more errors)\n", e->dropped);
}

void
cfg_errors_free(struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	memset(e, 0, sizeof(*e));
}

static void perr(struct cfg_parser *p, const char *key, const char *value,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "file:line: [section] key: 'value': problem" */
static void
perr(struct cfg_parser *p, const char *key, const char *value, const char *fmt,
     ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	p->nerr++;
	if (key != NULL && p->section[0] == '\0')
		cfg_errors_add(p->errs, "%s:%d: %s: %s", p->file, p->line, key,
			       what);
	else if (key != NULL && value != NULL)
		cfg_errors_add(p->errs, "%s:%d: [%s] %s: '%s': %s", p->file,
			       p->line, p->section, key, value, what);
	else if (key != NULL)
		cfg_errors_add(p->errs, "%s:%d: [%s] %s: %s", p->file, p->line,
			       p->section, key, what);
	else if (p->section[0] != '\0')
		cfg_errors_add(p->errs, "%s:%d: [%s]: %s", p->file, p->line,
			       p->section, what);
	else
		cfg_errors_add(p->errs, "%s:%d: %s", p->file, p->line, what);
}

/* ---- sections ---------------------------------------------------------- */

static void
check_init(struct cfg_check *k)
{
	memset(k, 0, sizeof(*k));
	k->interval_ms = 2000;
	k->timeout_ms = 1000;
	k->rise = 2;
	k->fall = 3;
}

static int
open_service(struct cfg_parser *p)
{
	struct cfg *c = p->cfg;
	struct cfg_service *old = cfg_service_find(c, p->name);
	struct cfg_service s;

	if (old != NULL) {
		perr(p, NULL, NULL, "service defined twice (first on line %d)",
		     old->line);
		return -1;
	}
	cfg_service_init(&s);
	strcpy(s.name, p->name);
	s.line = p->line;
	if (cfg_service_add(c, &s) < 0) {
		perr(p, NULL, NULL, "out of memory");
		return -1;
	}
	p->obj = c->nservices - 1;
	return 0;
}

static int
open_check(struct cfg_parser *p)
{
	struct cfg *c = p->cfg;
	const struct cfg_check *old = cfg_check_find(c, p->name);

	if (old != NULL) {
		perr(p, NULL, NULL,
		     "healthcheck defined twice (first on line %d)", old->line);
		return -1;
	}
	if (lb_array_grow(&c->checks, &c->cap_checks, c->nchecks + 1,
			  sizeof(*c->checks)) < 0) {
		perr(p, NULL, NULL, "out of memory");
		return -1;
	}
	check_init(&c->checks[c->nchecks]);
	strcpy(c->checks[c->nchecks].name, p->name);
	c->checks[c->nchecks].line = p->line;
	p->obj = c->nchecks++;
	return 0;
}

/* The section ends: every required key of its table must have come. */
static void
close_section(struct cfg_parser *p)
{
	int line = p->line;

	if (p->keys == NULL || p->kind == S_BAD)
		return;
	p->line = p->sect_line;
	for (int i = 0; p->keys[i].name != NULL && i < CFG_MAX_KEYS; i++)
		if ((p->keys[i].flags & CFG_KEY_REQUIRED) &&
		    p->key_line[i] == 0)
			perr(p, NULL, NULL, "%s is required", p->keys[i].name);
	p->line = line;
	p->keys = NULL;
}

/* Classify a section header "type [name]" and open it. */
static void
open_section(struct cfg_parser *p, const char *text)
{
	static const struct {
		const char *type;
		enum cfg_sect_kind kind;
		bool named;
	} kinds[] = {
		{ "global", S_GLOBAL, false },
		{ "dataplane", S_DATAPLANE, false },
		{ "metrics", S_METRICS, false },
		{ "service", S_SERVICE, true },
		{ "healthcheck", S_CHECK, true },
		{ "port", S_PORT, true },
	};
	char type[64];
	const char *sp;
	size_t tl;
	bool named = false, found = false;

	close_section(p);
	snprintf(p->section, sizeof(p->section), "%s", text);
	memset(p->key_line, 0, sizeof(p->key_line));
	p->sect_line = p->line;
	p->have_key = false;
	p->kind = S_BAD;
	sp = strpbrk(p->section, " \t");
	tl = sp != NULL ? (size_t)(sp - p->section) : strlen(p->section);
	if (tl == 0 || tl >= sizeof(type)) {
		perr(p, NULL, NULL, "unknown section");
		return;
	}
	memcpy(type, p->section, tl);
	type[tl] = '\0';
	p->name = NULL;
	if (sp != NULL) {
		p->name = sp + strspn(sp, " \t");
		if (*p->name == '\0')
			p->name = NULL;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(type, kinds[i].type) == 0) {
			p->kind = kinds[i].kind;
			named = kinds[i].named;
			found = true;
		}
	for (size_t i = 0; !found && i < p->cfg->nmods; i++)
		if (strcmp(type, p->cfg->mods[i]->section) == 0) {
			p->kind = S_MODULE;
			p->mod = i;
			named = p->cfg->mods[i]->named;
			found = true;
		}
	if (!found) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "unknown section");
		return;
	}
	if (p->state_only && p->kind != S_SERVICE) {
		p->kind = S_BAD;
		perr(p, NULL, NULL,
		     "only [service NAME] sections are allowed in a state "
		     "file");
		return;
	}
	if (named && p->name == NULL) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "section needs a name: [%s NAME]", type);
		return;
	}
	if (!named && p->name != NULL) {
		p->kind = S_BAD;
		perr(p, NULL, NULL, "section takes no name: [%s]", type);
		return;
	}
	if (named && p->kind != S_PORT && !cfg_name_valid(p->name)) {
		p->kind = S_BAD;
		perr(p, NULL, NULL,
		     "invalid name (1-%d characters of A-Z a-z 0-9 _ . : -)",
		     LB_NAME_MAX);
		return;
	}
	if (p->kind == S_METRICS && p->cfg->metrics_line == 0)
		p->cfg->metrics_line = p->line;
	if ((p->kind == S_SERVICE && open_service(p) < 0) ||
	    (p->kind == S_CHECK && open_check(p) < 0)) {
		p->kind = S_BAD;
		return;
	}
	if (p->kind == S_MODULE) {
		const struct cfg_module_ops *ops = p->cfg->mods[p->mod];
		char err[256] = "";

		p->keys = ops->keys;
		if (ops->open != NULL &&
		    ops->open(p->cfg->mod_state[p->mod], p->name, p->line, err,
			      sizeof(err)) < 0) {
			perr(p, NULL, NULL, "%s", err);
			p->kind = S_BAD;
		}
	}
}

static void
do_key(struct cfg_parser *p, const struct cfg_key *keys, void *obj,
       const char *key, const char *value)
{
	char err[256] = "";
	struct cfg_set set = { .obj = obj, .line = p->line };
	const struct cfg_key *k = cfg_key_find(keys, key);
	ptrdiff_t i;

	if (k == NULL) {
		perr(p, key, NULL, "unknown key");
		return;
	}
	i = k - keys;
	if (!(k->flags & CFG_KEY_REPEAT) && i < CFG_MAX_KEYS &&
	    p->key_line[i] != 0) {
		perr(p, key, value, "given twice (first on line %d)",
		     p->key_line[i]);
		return;
	}
	if (i < CFG_MAX_KEYS)
		p->key_line[i] = p->line;
	if (value[0] == '\0') {
		perr(p, key, NULL, "empty value");
		return;
	}
	set.key = k;
	if (k->set(&set, value, err, sizeof(err)) < 0)
		perr(p, key, value, "%s", err);
}

/* inih handler: always succeeds; problems are collected in p->errs. */
static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct cfg_parser *p = user;
	char err[256] = "";

	(void)section; /* tracked by the reader, which also sees empty ones */
	p->have_key = true;
	switch (p->kind) {
	case S_NONE:
		perr(p, key, NULL, "key outside of any section");
		break;
	case S_GLOBAL:
		do_key(p, cfg_global_keys, p->cfg, key, value);
		break;
	case S_DATAPLANE:
		/* the dataplane's own keys belong to edgelb-dp */
		if (strcmp(key, "socket") == 0)
			do_key(p, cfg_dataplane_keys, p->cfg, key, value);
		break;
	case S_METRICS:
		do_key(p, cfg_metrics_keys, p->cfg, key, value);
		break;
	case S_SERVICE:
		do_key(p, cfg_service_keys, &p->cfg->services[p->obj], key,
		       value);
		break;
	case S_CHECK:
		do_key(p, cfg_check_keys, &p->cfg->checks[p->obj], key, value);
		break;
	case S_MODULE: {
		const struct cfg_module_ops *ops = p->cfg->mods[p->mod];

		if (ops->keys != NULL)
			do_key(p, ops->keys, p->cfg->mod_state[p->mod], key,
			       value);
		else if (ops->key == NULL)
			perr(p, key, NULL, "[%s] takes no keys", ops->section);
		else if (ops->key(p->cfg->mod_state[p->mod], p->name, key,
				  value, err, sizeof(err)) < 0)
			perr(p, key, value, "%s", err);
		break;
	}
	case S_BAD:
	case S_PORT:
		break;
	}
	return 1;
}

/*
 * inih reader: one line per call. Counts lines, opens sections, flags
 * overlong lines and lines that are neither a section, a key, a comment
 * nor a continuation (those are then handed to inih as blank lines).
 */
static char *
read_line(char *str, int num, void *stream)
{
	struct cfg_parser *p = stream;
	ssize_t len = getline(&p->buf, &p->bufsz, p->fp);
	char *s;

	if (len < 0)
		return NULL;
	p->line++;
	while (len > 0 && (p->buf[len - 1] == '\n' || p->buf[len - 1] == '\r'))
		p->buf[--len] = '\0';
	s = p->buf;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	if (len > num - 3) {
		perr(p, NULL, NULL, "line longer than %d characters", num - 3);
		goto blank;
	}
	if (isspace((unsigned char)*s) && p->have_key)
		goto pass; /* continuation of the last key */
	s += strspn(s, " \t");
	if (*s == '\0' || *s == ';' || *s == '#')
		goto pass;
	if (*s == '[') {
		char *end = strchr(s, ']');

		if (end == NULL) {
			p->kind = S_BAD;
			p->section[0] = '\0';
			perr(p, NULL, NULL, "section header without ']'");
			goto blank;
		}
		*end = '\0';
		s++;
		s += strspn(s, " \t");
		while (end > s && isspace((unsigned char)end[-1]))
			*--end = '\0';
		open_section(p, s);
		snprintf(str, (size_t)num, "[x]\n");
		return str;
	}
	if (strpbrk(s, "=:") == NULL) {
		perr(p, NULL, NULL, "syntax error: expected 'key = value'");
		goto blank;
	}
pass:
	snprintf(str, (size_t)num, "%s\n", p->buf);
	return str;
blank:
	p->syntax_line = p->line;
	snprintf(str, (size_t)num, "\n");
	return str;
}

static int
parse_fp(struct cfg *c, FILE *fp, const char *file, bool state_only,
	 struct cfg_errors *e)
{
	struct cfg_parser p = {
		.cfg = c,
		.errs = e,
		.file = file,
		.fp = fp,
		.state_only = state_only,
		.kind = S_NONE,
	};
	int rc;

	rc = ini_parse_stream(read_line, &p, on_key, &p);
	close_section(&p);
	free(p.buf);
	cfg_index_invalidate(c); /* keys were set after cfg_service_add */
	if (rc > 0 && rc != p.syntax_line) {
		p.line = rc;
		p.section[0] = '\0';
		perr(&p, NULL, NULL, "syntax error");
	} else if (rc < 0) {
		cfg_errors_add(e, "%s: read error", file);
		return -EIO;
	}
	return p.nerr ? -EINVAL : 0;
}

int
cfg_parse_file(struct cfg *c, const char *path, struct cfg_errors *e)
{
	FILE *fp = fopen(path, "re");
	int rc;

	if (fp == NULL) {
		rc = -errno;
		cfg_errors_add(e, "%s: %s", path, strerror(-rc));
		return rc;
	}
	snprintf(c->file, sizeof(c->file), "%s", path);
	rc = parse_fp(c, fp, path, false, e);
	fclose(fp);
	return rc;
}

int
cfg_parse_state(struct cfg *c, const char *path, struct cfg_errors *e)
{
	struct cfg *tmp;
	FILE *fp = fopen(path, "re");
	int rc;

	if (fp == NULL) {
		rc = -errno;
		if (rc != -ENOENT)
			cfg_errors_add(e, "%s: %s", path, strerror(-rc));
		return rc;
	}
	tmp = cfg_new(NULL, 0);
	if (tmp == NULL) {
		fclose(fp);
		return -ENOMEM;
	}
	rc = parse_fp(tmp, fp, path, true, e);
	fclose(fp);
	if (rc == 0) {
		struct cfg_service *sv = c->services;
		uint32_t n = c->nservices;
		size_t cap = c->cap_services;

		c->services = tmp->services;
		c->nservices = tmp->nservices;
		c->cap_services = tmp->cap_services;
		tmp->services = sv;
		tmp->nservices = n;
		tmp->cap_services = cap;
		cfg_index_invalidate(c);
	}
	cfg_free(tmp);
	return rc;
}

/* ---- validation -------------------------------------------------------- */

struct file_report {
	const struct cfg *c;
	const char *what; /* "service web" */
	struct cfg_errors *e;
};

static void
report_file(void *arg, int line, const char *msg)
{
	struct file_report *r = arg;

	if (line > 0)
		cfg_errors_add(r->e, "%s:%d: [%s]: %s", r->c->file, line,
			       r->what, msg);
	else
		cfg_errors_add(r->e, "%s: [%s]: %s", r->c->file, r->what, msg);
}

static int
check_problems(const struct cfg *c, struct cfg_check *k, struct cfg_errors *e)
{
	bool http = k->type == CFG_CHECK_HTTP || k->type == CFG_CHECK_HTTPS;
	int bad = 0;

#define PROBLEM(...)                                                           \
	do {                                                                   \
		cfg_errors_add(e, "%s:%d: [healthcheck %s]: " __VA_ARGS__);    \
		bad++;                                                         \
	} while (0)

	if (k->type == CFG_CHECK_NONE)
		PROBLEM("type is required", c->file, k->line, k->name);
	if (k->interval_ms <= k->timeout_ms)
		PROBLEM("interval (%u ms) must be greater than timeout (%u ms)",
			c->file, k->line, k->name, k->interval_ms,
			k->timeout_ms);
	if (!http && k->type != CFG_CHECK_NONE &&
	    (k->path[0] || k->host[0] || k->expect_body[0] || k->expect_status))
		PROBLEM("path, host, expect_status and expect_body need type "
			"http or https",
			c->file, k->line, k->name);
	if (k->type != CFG_CHECK_UDP && k->type != CFG_CHECK_NONE &&
	    (k->send_len || k->expect_len))
		PROBLEM("send and expect need type udp", c->file, k->line,
			k->name);
	if (k->type == CFG_CHECK_UDP && k->send_len == 0)
		PROBLEM("type udp needs send", c->file, k->line, k->name);
#undef PROBLEM
	if (http && k->path[0] == '\0')
		strcpy(k->path, "/");
	if (http && k->expect_status == 0)
		k->expect_status = 200;
	return bad;
}

int
cfg_validate(struct cfg *c, struct cfg_errors *e)
{
	char err[256];
	int bad = 0;

	if (c->ctl_socket[0] && strcmp(c->ctl_socket, c->dp_socket) == 0) {
		cfg_errors_add(e,
			       "%s: [global] ctl_socket: '%s': same path as "
			       "[dataplane] socket",
			       c->file, c->ctl_socket);
		bad++;
	}
	if (c->metrics_line && !c->metrics_enabled) {
		cfg_errors_add(e, "%s:%d: [metrics]: listen is required",
			       c->file, c->metrics_line);
		bad++;
	}
	for (uint32_t i = 0; i < c->nchecks; i++)
		bad += check_problems(c, &c->checks[i], e);
	for (uint32_t i = 0; i < c->nservices; i++) {
		char what[LB_NAME_MAX + 16];
		struct file_report r = { c, what, e };

		snprintf(what, sizeof(what), "service %s", c->services[i].name);
		if (cfg_service_problems(c, &c->services[i], i, NULL,
					 report_file, &r) < 0)
			bad++;
	}
	for (size_t i = 0; i < c->nmods; i++) {
		const struct cfg_module_ops *ops = c->mods[i];

		err[0] = '\0';
		if (ops->validate != NULL &&
		    ops->validate(c->mod_state[i], c, err, sizeof(err)) < 0) {
			cfg_errors_add(e, "%s: [%s]: %s", c->file, ops->section,
				       err);
			bad++;
		}
	}
	return bad ? -EINVAL : 0;
}

/* ---- life cycle -------------------------------------------------------- */

struct cfg *
cfg_new(const struct cfg_module_ops *const *mods, size_t nmods)
{
	struct cfg *c;

	if (nmods > CFG_MAX_MODULES) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->log_level = LOG_INFO;
	strcpy(c->ctl_socket, LB_DEFAULT_CTL_SOCKET);
	strcpy(c->dp_socket, LB_DEFAULT_DP_SOCKET);
	strcpy(c->metrics_path, "/metrics");
	c->reconcile_ms = 30000;
	c->shutdown_grace_ms = 10000;
	strcpy(c->file, "-");
	for (size_t i = 0; i < nmods; i++)
		c->mods[i] = mods[i];
	c->nmods = nmods;
	if (cfg_index_init(c) < 0)
		goto err;
	for (size_t i = 0; i < nmods; i++) {
		if (mods[i]->create == NULL)
			continue;
		c->mod_state[i] = mods[i]->create();
		if (c->mod_state[i] == NULL)
			goto err;
	}
	return c;
err:
	cfg_free(c);
	errno = ENOMEM;
	return NULL;
}

void
cfg_free(struct cfg *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->nservices; i++)
		cfg_service_release(&c->services[i]);
	free(c->services);
	free(c->checks);
	cfg_index_fini(c);
	for (size_t i = 0; i < c->nmods; i++)
		if (c->mod_state[i] != NULL && c->mods[i]->destroy != NULL)
			c->mods[i]->destroy(c->mod_state[i]);
	free(c);
}

void *
cfg_module_state(const struct cfg *c, const struct cfg_module_ops *ops)
{
	for (size_t i = 0; i < c->nmods; i++)
		if (c->mods[i] == ops)
			return c->mod_state[i];
	return NULL;
}

struct cfg *
cfg_load(const char *path, const struct cfg_module_ops *const *mods,
	 size_t nmods, struct cfg_errors *e)
{
	struct cfg *c = cfg_new(mods, nmods);
	int rc;

	if (c == NULL) {
		cfg_errors_add(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	rc = cfg_parse_file(c, path, e);
	if (rc == 0 && c->state_file[0]) {
		rc = cfg_parse_state(c, c->state_file, e);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (rc == 0 || rc == -EINVAL) {
		/* validate a broken file too: report as much as possible */
		int vrc = cfg_validate(c, e);

		if (rc == 0)
			rc = vrc;
	}
	if (rc < 0) {
		cfg_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

int
cfg_check_file(const char *path, const struct cfg_module_ops *const *mods,
	       size_t nmods, FILE *out)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = cfg_load(path, mods, nmods, &e);
	int rc = c != NULL ? 0 : -errno;

	cfg_errors_print(&e, out);
	if (c != NULL)
		fprintf(out, "%s: ok (%u services, %u health checks)\n", path,
			c->nservices, c->nchecks);
	cfg_errors_free(&e);
	cfg_free(c);
	return rc;
}
