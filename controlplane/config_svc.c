/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelbd configuration: the desired services as a list that lbctl edits
 * in place over ctl.sock (cfg_service_*, cfg_backend_*, cfg_laddr_*), the
 * checks of one service shared by whole-file validation and those edits,
 * and the state file that persists the list (written atomically: a
 * temporary file, fsync, rename, fsync of the directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_priv.h"
#include "svcmap.h"
#include "edgelb/lbmsg.h"
#include "edgelb/util.h"

/* ---- the service index --------------------------------------------- */

struct cfg_index {
	struct svcmap *key;  /* svcmap_svc_key -> index + 1 */
	struct svcmap *name; /* name -> index + 1 */
	bool ok;
};

int
cfg_index_init(struct cfg *c)
{
	c->idx = calloc(1, sizeof(*c->idx));
	if (c->idx == NULL)
		return -ENOMEM;
	c->idx->key = svcmap_new();
	c->idx->name = svcmap_new();
	if (c->idx->key == NULL || c->idx->name == NULL) {
		cfg_index_fini(c);
		return -ENOMEM;
	}
	return 0;
}

void
cfg_index_fini(struct cfg *c)
{
	if (c->idx == NULL)
		return;
	svcmap_free(c->idx->key);
	svcmap_free(c->idx->name);
	free(c->idx);
	c->idx = NULL;
}

void
cfg_index_invalidate(const struct cfg *c)
{
	if (c->idx != NULL)
		c->idx->ok = false;
}

/* Index service i of c; false (index now invalid) when out of memory. */
static bool
index_one(const struct cfg *c, uint32_t i)
{
	const struct cfg_service *s = &c->services[i];
	void *v = (void *)(uintptr_t)(i + 1);
	uint8_t k[SVCMAP_KEY_MAX];
	size_t klen = svcmap_svc_key(s->proto, &s->vip, s->vport, k);
	size_t nlen = strlen(s->name);

	if (svcmap_put(c->idx->key, k, klen, v) < 0 ||
	    (nlen <= SVCMAP_KEY_MAX &&
	     svcmap_put(c->idx->name, s->name, nlen, v) < 0)) {
		c->idx->ok = false;
		return false;
	}
	return true;
}

/* The index, rebuilt if stale; NULL when there is none (scan instead). */
static struct cfg_index *
index_of(const struct cfg *c)
{
	if (c->idx == NULL)
		return NULL;
	if (!c->idx->ok) {
		svcmap_clear(c->idx->key);
		svcmap_clear(c->idx->name);
		c->idx->ok = true;
		for (uint32_t i = 0; i < c->nservices && c->idx->ok; i++)
			index_one(c, i);
	}
	return c->idx->ok ? c->idx : NULL;
}

/* The service at index value v (index + 1) of c, or NULL. */
static struct cfg_service *
at(const struct cfg *c, void *v)
{
	uintptr_t i = (uintptr_t)v;

	return i >= 1 && i <= c->nservices ? &c->services[i - 1] : NULL;
}

/* ---- services, backends, local addresses -------------------------------- */

void
cfg_service_init(struct cfg_service *s)
{
	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_TCP;
	strcpy(s->sched, LB_SCHED_DEFAULT);
}

void
cfg_service_release(struct cfg_service *s)
{
	free(s->backends);
	free(s->laddrs);
	s->backends = NULL;
	s->laddrs = NULL;
	s->nbackends = s->cap_backends = 0;
	s->nladdrs = s->cap_laddrs = 0;
}

int
cfg_service_copy(struct cfg_service *dst, const struct cfg_service *src)
{
	struct cfg_backend *b = NULL;
	struct lb_addr *l = NULL;

	if (src->nbackends) {
		b = malloc(src->nbackends * sizeof(*b));
		if (b == NULL)
			goto err;
		memcpy(b, src->backends, src->nbackends * sizeof(*b));
	}
	if (src->nladdrs) {
		l = malloc(src->nladdrs * sizeof(*l));
		if (l == NULL)
			goto err;
		memcpy(l, src->laddrs, src->nladdrs * sizeof(*l));
	}
	*dst = *src;
	dst->backends = b;
	dst->cap_backends = src->nbackends;
	dst->laddrs = l;
	dst->cap_laddrs = src->nladdrs;
	return 0;
err:
	free(b);
	return -ENOMEM;
}

int
cfg_service_add(struct cfg *c, const struct cfg_service *s)
{
	if (lb_array_grow(&c->services, &c->cap_services, c->nservices + 1,
			  sizeof(*c->services)) < 0)
		return -ENOMEM;
	if (cfg_service_copy(&c->services[c->nservices], s) < 0)
		return -ENOMEM;
	c->nservices++;
	if (c->idx != NULL && c->idx->ok)
		index_one(c, c->nservices - 1);
	return 0;
}

void
cfg_service_remove(struct cfg *c, uint32_t i)
{
	if (i >= c->nservices)
		return;
	cfg_service_release(&c->services[i]);
	memmove(&c->services[i], &c->services[i + 1],
		(c->nservices - i - 1) * sizeof(c->services[0]));
	c->nservices--;
	cfg_index_invalidate(c);
}

struct cfg_service *
cfg_service_find(const struct cfg *c, const char *name)
{
	const struct cfg_index *x = index_of(c);
	size_t len = strlen(name);

	if (x != NULL && len <= SVCMAP_KEY_MAX) {
		struct cfg_service *s = at(c, svcmap_get(x->name, name, len));

		if (s == NULL || strcmp(s->name, name) == 0)
			return s;
	}
	for (uint32_t i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

struct cfg_service *
cfg_service_find_key(const struct cfg *c, uint8_t proto,
		     const struct lb_addr *vip, uint16_t vport)
{
	const struct cfg_index *x = index_of(c);

	if (x != NULL) {
		uint8_t k[SVCMAP_KEY_MAX];
		size_t klen = svcmap_svc_key(proto, vip, vport, k);
		struct cfg_service *s = at(c, svcmap_get(x->key, k, klen));

		if (s == NULL || (s->proto == proto && s->vport == vport &&
				  lb_addr_equal(&s->vip, vip)))
			return s;
	}
	for (uint32_t i = 0; i < c->nservices; i++) {
		struct cfg_service *s = &c->services[i];

		if (s->proto == proto && s->vport == vport &&
		    lb_addr_equal(&s->vip, vip))
			return s;
	}
	return NULL;
}

const struct cfg_check *
cfg_check_find(const struct cfg *c, const char *name)
{
	for (uint32_t i = 0; i < c->nchecks; i++)
		if (strcmp(c->checks[i].name, name) == 0)
			return &c->checks[i];
	return NULL;
}

struct cfg_backend *
cfg_backend_find(const struct cfg_service *s, const struct lb_addr *addr,
		 uint16_t port)
{
	for (uint32_t i = 0; i < s->nbackends; i++)
		if (s->backends[i].port == port &&
		    lb_addr_equal(&s->backends[i].addr, addr))
			return &s->backends[i];
	return NULL;
}

int
cfg_backend_add(struct cfg_service *s, const struct cfg_backend *b)
{
	if (cfg_backend_find(s, &b->addr, b->port) != NULL)
		return -EEXIST;
	if (lb_array_grow(&s->backends, &s->cap_backends, s->nbackends + 1,
			  sizeof(*s->backends)) < 0)
		return -ENOMEM;
	s->backends[s->nbackends++] = *b;
	return 0;
}

int
cfg_backend_del(struct cfg_service *s, const struct lb_addr *addr,
		uint16_t port)
{
	struct cfg_backend *b = cfg_backend_find(s, addr, port);
	size_t i;

	if (b == NULL)
		return -ENOENT;
	i = (size_t)(b - s->backends);
	memmove(b, b + 1, (s->nbackends - i - 1) * sizeof(*b));
	s->nbackends--;
	return 0;
}

int
cfg_laddr_add(struct cfg_service *s, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&s->laddrs[i], a))
			return -EEXIST;
	if (lb_array_grow(&s->laddrs, &s->cap_laddrs, s->nladdrs + 1,
			  sizeof(*s->laddrs)) < 0)
		return -ENOMEM;
	s->laddrs[s->nladdrs++] = *a;
	return 0;
}

int
cfg_laddr_del(struct cfg_service *s, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (lb_addr_equal(&s->laddrs[i], a)) {
			memmove(&s->laddrs[i], &s->laddrs[i + 1],
				(s->nladdrs - i - 1) * sizeof(*a));
			s->nladdrs--;
			return 0;
		}
	return -ENOENT;
}

/* ---- checks of one service --------------------------------------------- */

/*
 * Report every problem of s; others are the services s must not clash
 * with (those before it in the file, or all but skip for lbctl).
 */
int
cfg_service_problems(const struct cfg *c, const struct cfg_service *s,
		     uint32_t nothers, const struct cfg_service *skip,
		     cfg_report_fn report, void *arg)
{
	char buf[320], a[LB_ADDRPORTSTRLEN];
	int bad = 0;

#define PROBLEM(line, ...)                                                     \
	do {                                                                   \
		snprintf(buf, sizeof(buf), __VA_ARGS__);                       \
		report(arg, line, buf);                                        \
		bad++;                                                         \
	} while (0)

	if (!cfg_name_valid(s->name))
		PROBLEM(s->line, "invalid service name '%s'", s->name);
	if (s->vip.family == 0)
		PROBLEM(s->line, "vip is required");
	if (s->mode == LB_MODE_UNSET)
		PROBLEM(s->line, "mode is required");
	if (!lb_sched_name_valid(s->sched))
		PROBLEM(s->line, "unknown scheduler '%s'", s->sched);
	if (s->nladdrs && s->mode != LB_MODE_FNAT && s->mode != LB_MODE_UNSET)
		PROBLEM(s->line, "laddr is only valid with mode fnat");
	if (s->mode == LB_MODE_FNAT && s->nladdrs == 0)
		PROBLEM(s->line, "mode fnat needs at least one laddr");
	if ((s->flags & LB_SVC_F_TOA) && s->mode != LB_MODE_FNAT)
		PROBLEM(s->line, "toa is only valid with mode fnat");
	if ((s->flags & LB_SVC_F_PROXY_V2) && s->mode != LB_MODE_FNAT)
		PROBLEM(s->line, "proxy_protocol is only valid with mode fnat");
	if ((s->flags & (LB_SVC_F_TOA | LB_SVC_F_PROXY_V2)) &&
	    s->proto != IPPROTO_TCP)
		PROBLEM(s->line, "toa and proxy_protocol need proto tcp");
	if (s->mh_size && strcmp(s->sched, "mh") != 0)
		PROBLEM(s->line, "mh_size is only valid with scheduler mh");
	if ((s->flags & LB_SVC_F_MH_ADOPT) &&
	    (strcmp(s->sched, "mh") != 0 ||
	     (s->mode != LB_MODE_DR && s->mode != LB_MODE_TUNNEL)))
		PROBLEM(s->line,
			"mh_adopt needs scheduler mh and mode dr or tunnel "
			"(another scheduler would pick another backend)");
	if (s->syn_src_rate && s->proto != IPPROTO_TCP)
		PROBLEM(s->line, "syn_src_rate needs proto tcp");
	if ((s->flags & LB_SVC_F_SYNPROXY_ON) &&
	    (s->proto != IPPROTO_TCP ||
	     (s->mode != LB_MODE_NAT && s->mode != LB_MODE_FNAT)))
		PROBLEM(s->line, "synproxy = on needs proto tcp and mode nat "
				 "or fnat (DR and TUNNEL replies bypass us)");
	if (strcmp(s->sched, "lrt") == 0 &&
	    (s->mode == LB_MODE_DR || s->mode == LB_MODE_TUNNEL))
		PROBLEM(s->line, "scheduler lrt needs mode nat or fnat");
	if (s->check[0] && cfg_check_find(c, s->check) == NULL)
		PROBLEM(s->line, "healthcheck '%s' is not defined", s->check);
	for (uint32_t i = 0; i < s->nbackends; i++) {
		const struct cfg_backend *b = &s->backends[i];

		if (s->vip.family && s->mode != LB_MODE_FNAT &&
		    b->addr.family != s->vip.family)
			PROBLEM(b->line ? b->line : s->line,
				"backend %s: address family differs from the "
				"vip",
				lb_addr_port_format(&b->addr, b->port, a,
						    sizeof(a)));
	}
	for (uint32_t i = 0; i < s->nladdrs; i++)
		if (s->nbackends &&
		    s->laddrs[i].family != s->backends[0].addr.family)
			PROBLEM(s->line,
				"laddr %s: address family differs from the "
				"backends",
				lb_addr_format(&s->laddrs[i], a, sizeof(a)));
	for (uint32_t i = 0; i < nothers && s->vip.family; i++) {
		const struct cfg_service *o = &c->services[i];

		if (o == s || o == skip)
			continue;
		if (strcmp(o->name, s->name) == 0)
			PROBLEM(s->line, "service name '%s' already used",
				s->name);
		if (o->proto == s->proto && o->vport == s->vport &&
		    lb_addr_equal(&o->vip, &s->vip))
			PROBLEM(s->line,
				"vip %s %s is already used by [service %s]",
				lb_proto_name(s->proto),
				lb_addr_port_format(&s->vip, s->vport, a,
						    sizeof(a)),
				o->name);
	}
#undef PROBLEM
	return bad ? -EINVAL : 0;
}

struct first_err {
	char *buf;
	size_t len;
	bool set;
};

static void
report_first(void *arg, int line, const char *msg)
{
	struct first_err *f = arg;

	(void)line;
	if (!f->set)
		snprintf(f->buf, f->len, "%s", msg);
	f->set = true;
}

int
cfg_service_check(const struct cfg *c, const struct cfg_service *s,
		  const struct cfg_service *skip, char *err, size_t errlen)
{
	struct first_err f = { err, errlen, false };
	const struct cfg_service *o;
	char a[LB_ADDRPORTSTRLEN];
	int rc;

	if (index_of(c) == NULL) /* no index: scan */
		return cfg_service_problems(c, s, c->nservices, skip,
					    report_first, &f);
	/* the service alone, then its clashes found through the index */
	rc = cfg_service_problems(c, s, 0, skip, report_first, &f);
	if (rc < 0 || s->vip.family == 0)
		return rc;
	o = cfg_service_find(c, s->name);
	if (o != NULL && o != s && o != skip) {
		snprintf(err, errlen, "service name '%s' already used",
			 s->name);
		return -EINVAL;
	}
	o = cfg_service_find_key(c, s->proto, &s->vip, s->vport);
	if (o != NULL && o != s && o != skip) {
		snprintf(err, errlen,
			 "vip %s %s is already used by [service %s]",
			 lb_proto_name(s->proto),
			 lb_addr_port_format(&s->vip, s->vport, a, sizeof(a)),
			 o->name);
		return -EINVAL;
	}
	return 0;
}

/* ---- state file -------------------------------------------------------- */

int
cfg_write_services(const struct cfg *c, FILE *out)
{
	char a[LB_ADDRPORTSTRLEN];

	fprintf(out, "# edgelbd state file: the desired services, written by "
		     "edgelbd.\n# It replaces the [service] sections of the "
		     "main file; delete it to\n# return to them.\n");
	for (uint32_t i = 0; i < c->nservices; i++) {
		const struct cfg_service *s = &c->services[i];

		fprintf(out, "\n[service %s]\n", s->name);
		fprintf(out, "vip = %s\n",
			lb_addr_port_format(&s->vip, s->vport, a, sizeof(a)));
		fprintf(out, "proto = %s\n", lb_proto_name(s->proto));
		fprintf(out, "mode = %s\n", lb_mode_name(s->mode));
		fprintf(out, "scheduler = %s\n", s->sched);
		fprintf(out, "persistence = %u\n", s->persist);
		if (s->flags & LB_SVC_F_TOA)
			fprintf(out, "toa = yes\n");
		if (s->flags & LB_SVC_F_PROXY_V2)
			fprintf(out, "proxy_protocol = v2\n");
		if (s->mh_size)
			fprintf(out, "mh_size = %u\n", s->mh_size);
		if (s->flags & LB_SVC_F_MH_ADOPT)
			fprintf(out, "mh_adopt = yes\n");
		if (s->check[0])
			fprintf(out, "healthcheck = %s\n", s->check);
		fprintf(out, "on_fail = %s\n",
			s->on_fail == CFG_ON_FAIL_REMOVE ? "remove"
							 : "quiesce");
		if (s->flags & LB_SVC_F_UDP_DRAIN)
			fprintf(out, "udp_on_down = drain\n");
		if (s->max_conns)
			fprintf(out, "max_conns = %u\n", s->max_conns);
		if (s->conn_rate)
			fprintf(out, "conn_rate = %u\n", s->conn_rate);
		if (s->syn_src_rate)
			fprintf(out, "syn_src_rate = %u\n", s->syn_src_rate);
		if (s->flags & LB_SVC_F_SYNPROXY_ON)
			fprintf(out, "synproxy = on\n");
		else if (s->flags & LB_SVC_F_SYNPROXY_OFF)
			fprintf(out, "synproxy = off\n");
		for (uint32_t j = 0; j < s->nbackends; j++) {
			const struct cfg_backend *b = &s->backends[j];

			fprintf(out, "backend = %s weight=%u",
				lb_addr_port_format(&b->addr, b->port, a,
						    sizeof(a)),
				b->weight);
			if (b->u_thresh)
				fprintf(out, " u_threshold=%u", b->u_thresh);
			if (b->l_thresh)
				fprintf(out, " l_threshold=%u", b->l_thresh);
			fprintf(out, "\n");
		}
		for (uint32_t j = 0; j < s->nladdrs; j++)
			fprintf(out, "laddr = %s\n",
				lb_addr_format(&s->laddrs[j], a, sizeof(a)));
	}
	return ferror(out) ? -EIO : 0;
}

int
cfg_save_state(const struct cfg *c, const char *path)
{
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	FILE *fp = NULL;
	int fd, dfd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		rc = -errno;
		close(fd);
		goto err;
	}
	rc = cfg_write_services(c, fp);
	if (rc == 0 &&
	    (fflush(fp) != 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (fclose(fp) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		goto err;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
err:
	unlink(tmp);
	return rc;
}
