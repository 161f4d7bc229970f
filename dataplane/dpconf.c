/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * INI loading for edgelb-dp: parse every line with inih, then validate the
 * result as a whole. Line numbers come from our own reader (inih calls it
 * once per line), so that errors found after parsing still name a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "edgelb/log.h"
#include "dpconf.h"

struct load_ctx {
	struct dpconf *c;
	const char *path;
	FILE *f;
	int lineno;
	int err; /* first error, negative errno */
	char *msg;
	size_t msglen;
	struct dpconf_port *port; /* the [port NAME] being read */
};

/* Sections that belong to edgelbd: skipped without a word. */
static const char *const foreign_sections[] = {
	"global", "httpdns", "gateway", "push", "metrics", "bgp",
};
static const char *const foreign_prefixes[] = {
	"service ",
	"healthcheck ",
	"route ",
	"upstream ",
};

void
dpconf_defaults(struct dpconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", LB_DEFAULT_DP_SOCKET);
	c->log_level = LOG_INFO;
	c->max_services = 65536;
	c->max_backends = 1048576;
	c->max_routes = 1024;
	c->max_neighbours = 4096;
	c->neigh_queue_len = 8;
	c->arp_retry_ms = 1000;
	c->arp_retries = 3;
	c->neigh_reachable_s = 300;
	c->mbufs = 16383;
	c->max_conns = DPCONF_DEFAULT_MAX_CONNS;
	c->synproxy_syn_rate = DPCONF_SYNPROXY_SYN_RATE;
	c->synproxy_fill = DPCONF_SYNPROXY_FILL;
	c->icmp_rate = 1000;
	c->icmp_burst = 50;
	c->icmp_dest_rate = 100;
	c->icmp_dest_burst = 10;
	c->xdp_steer = true;
	c->frag_reassembly = true;
	c->frag_timeout_ms = 2000;
	c->frag_min_size = 64;
	c->frag_bucket_entries = 4;
	snprintf(c->xdp_pin_dir, sizeof(c->xdp_pin_dir), "%s",
		 DPCONF_DEFAULT_XDP_PIN_DIR);
	c->tmo = (struct dpconf_timeouts){
		.syn_recv = 30,
		.established = 900,
		.fin_wait = 120,
		.time_wait = 120,
		.close = 10,
		.udp = 300,
	};
}

static int
fail(struct load_ctx *lc, int line, const char *section, const char *key,
     const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (lc->err != 0)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	lc->err = -EINVAL;
	if (line > 0 && section != NULL)
		snprintf(lc->msg, lc->msglen, "%s:%d: [%s] %s: %s", lc->path,
			 line, section, key, what);
	else if (line > 0)
		snprintf(lc->msg, lc->msglen, "%s:%d: %s", lc->path, line,
			 what);
	else
		snprintf(lc->msg, lc->msglen, "%s: %s", lc->path, what);
	return 0;
}

static bool
parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

/* "A.B.C.D/NN" or "A.B.C.D" (/32) into network order address and plen. */
static int
parse_v4_prefix(const char *s, uint32_t *addr, uint8_t *plen)
{
	struct lb_addr a;
	int rc;

	rc = lb_prefix_parse(s, &a, plen);
	if (rc < 0)
		return rc;
	if (a.family != AF_INET)
		return -EAFNOSUPPORT;
	*addr = a.v4;
	return 0;
}

bool
dpconf_prefix_overlap(uint32_t a, uint8_t alen, uint32_t b, uint8_t blen)
{
	uint32_t m = dpconf_mask(alen < blen ? alen : blen);

	return (a & m) == (b & m);
}

/* "PREFIX via GW [dev PORT]" or "PREFIX dev PORT". */
static int
parse_route(struct load_ctx *lc, const char *v, struct dpconf_route *r)
{
	char buf[256], *tok[6], *save = NULL, *p;
	unsigned int n = 0;
	uint8_t gwlen;

	snprintf(buf, sizeof(buf), "%s", v);
	for (p = strtok_r(buf, " \t", &save); p != NULL;
	     p = strtok_r(NULL, " \t", &save)) {
		if (n == 6)
			return fail(lc, lc->lineno, "dataplane", "route",
				    "too many words in '%s'", v);
		tok[n++] = p;
	}
	if (n != 3 && n != 5)
		return fail(lc, lc->lineno, "dataplane", "route",
			    "expected 'PREFIX via GW [dev PORT]', got '%s'", v);
	memset(r, 0, sizeof(*r));
	r->line = lc->lineno;
	if (parse_v4_prefix(tok[0], &r->dst, &r->plen) < 0)
		return fail(lc, lc->lineno, "dataplane", "route",
			    "bad IPv4 prefix '%s'", tok[0]);
	if ((r->dst & ~dpconf_mask(r->plen)) != 0)
		return fail(lc, lc->lineno, "dataplane", "route",
			    "prefix '%s' has host bits set", tok[0]);
	for (unsigned int i = 1; i + 1 < n; i += 2) {
		if (strcmp(tok[i], "via") == 0 && r->gw == 0) {
			if (parse_v4_prefix(tok[i + 1], &r->gw, &gwlen) < 0 ||
			    gwlen != 32 || r->gw == 0)
				return fail(lc, lc->lineno, "dataplane",
					    "route", "bad gateway '%s'",
					    tok[i + 1]);
		} else if (strcmp(tok[i], "dev") == 0 && r->dev[0] == '\0') {
			if (strlen(tok[i + 1]) > LB_IFNAME_MAX)
				return fail(lc, lc->lineno, "dataplane",
					    "route", "port name too long");
			snprintf(r->dev, sizeof(r->dev), "%s", tok[i + 1]);
		} else {
			return fail(lc, lc->lineno, "dataplane", "route",
				    "unexpected '%s'", tok[i]);
		}
	}
	if (r->gw == 0 && r->dev[0] == '\0')
		return fail(lc, lc->lineno, "dataplane", "route",
			    "a route needs 'via GW' or 'dev PORT'");
	return 1;
}

struct u32_key {
	const char *name;
	size_t off;
	uint32_t min, max;
};

#define U32KEY(n, field, lo, hi)                                               \
	{                                                                      \
		n, offsetof(struct dpconf, field), lo, hi                      \
	}

static const struct u32_key dataplane_u32[] = {
	U32KEY("max_services", max_services, 1, 1u << 24),
	U32KEY("max_backends", max_backends, 1, 1u << 26),
	U32KEY("max_routes", max_routes, 16, 1u << 20),
	U32KEY("max_neighbours", max_neighbours, 16, 1u << 20),
	U32KEY("neigh_queue_len", neigh_queue_len, 0, 256),
	U32KEY("arp_retry_ms", arp_retry_ms, 10, 60000),
	U32KEY("arp_retries", arp_retries, 1, 100),
	U32KEY("neigh_reachable_time", neigh_reachable_s, 1, 86400),
	U32KEY("mbufs", mbufs, 1023, 1u << 24),
	U32KEY("max_conns", max_conns, DPCONF_MIN_MAX_CONNS,
	       DPCONF_MAX_MAX_CONNS),
	U32KEY("synproxy_syn_rate", synproxy_syn_rate, 0, DPCONF_ICMP_RATE_MAX),
	U32KEY("synproxy_fill", synproxy_fill, 0, 100),
	U32KEY("icmp_rate", icmp_rate, 0, DPCONF_ICMP_RATE_MAX),
	U32KEY("icmp_burst", icmp_burst, 1, DPCONF_ICMP_RATE_MAX),
	U32KEY("icmp_dest_rate", icmp_dest_rate, 0, DPCONF_ICMP_RATE_MAX),
	U32KEY("icmp_dest_burst", icmp_dest_burst, 1, DPCONF_ICMP_RATE_MAX),
	U32KEY("timeout_syn_recv", tmo.syn_recv, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("timeout_established", tmo.established, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("timeout_fin_wait", tmo.fin_wait, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("timeout_time_wait", tmo.time_wait, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("timeout_close", tmo.close, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("timeout_udp", tmo.udp, 1, DPCONF_TIMEOUT_MAX),
	U32KEY("frag_timeout_ms", frag_timeout_ms, 10, 60000),
	U32KEY("frag_min_size", frag_min_size, 8, 1480),
	U32KEY("frag_max_entries", frag_max_entries, 0, 1u << 20),
	U32KEY("frag_buckets", frag_buckets, 0, 1u << 20),
	U32KEY("frag_bucket_entries", frag_bucket_entries, 1, 16),
};

static int
dataplane_key(struct load_ctx *lc, const char *name, const char *value)
{
	struct dpconf *c = lc->c;
	int lvl;

	for (size_t i = 0; i < sizeof(dataplane_u32) / sizeof(*dataplane_u32);
	     i++) {
		const struct u32_key *k = &dataplane_u32[i];
		int rc;

		if (strcmp(name, k->name) != 0)
			continue;
		rc = lb_parse_u32(value, k->min, k->max,
				  (uint32_t *)((char *)c + k->off));
		if (rc == 0 && strcmp(name, "frag_bucket_entries") == 0 &&
		    (c->frag_bucket_entries & (c->frag_bucket_entries - 1)))
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not a power of 2", value);
		if (rc < 0)
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not a number in [%u, %u]", value,
				    k->min, k->max);
		return 1;
	}
	if (strcmp(name, "socket") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(c->socket))
			return fail(lc, lc->lineno, "dataplane", name,
				    "need an absolute path below %zu bytes",
				    sizeof(c->socket));
		snprintf(c->socket, sizeof(c->socket), "%s", value);
	} else if (strcmp(name, "socket_group") == 0) {
		if (value[0] == '\0' ||
		    strlen(value) >= sizeof(c->socket_group))
			return fail(lc, lc->lineno, "dataplane", name,
				    "bad group name");
		snprintf(c->socket_group, sizeof(c->socket_group), "%s", value);
	} else if (strcmp(name, "log_level") == 0) {
		lvl = lb_log_level_parse(value);
		if (lvl < 0)
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not err|warning|notice|info|debug",
				    value);
		c->log_level = lvl;
	} else if (strcmp(name, "wait_config") == 0) {
		if (!parse_bool(value, &c->wait_config))
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not yes or no", value);
	} else if (strcmp(name, "frag_reassembly") == 0) {
		if (!parse_bool(value, &c->frag_reassembly))
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not yes or no", value);
	} else if (strcmp(name, "xdp_steer") == 0) {
		if (!parse_bool(value, &c->xdp_steer))
			return fail(lc, lc->lineno, "dataplane", name,
				    "'%s' is not yes or no", value);
	} else if (strcmp(name, "xdp_prog") == 0 ||
		   strcmp(name, "xdp_pin_dir") == 0) {
		char *dst = strcmp(name, "xdp_prog") == 0 ? c->xdp_prog
							  : c->xdp_pin_dir;

		if (value[0] != '/' || strlen(value) >= DPCONF_PATH_MAX)
			return fail(lc, lc->lineno, "dataplane", name,
				    "need an absolute path below %d bytes",
				    DPCONF_PATH_MAX);
		snprintf(dst, DPCONF_PATH_MAX, "%s", value);
	} else if (strcmp(name, "route") == 0) {
		if (c->nroutes == DPCONF_MAX_ROUTES)
			return fail(lc, lc->lineno, "dataplane", name,
				    "more than %d routes", DPCONF_MAX_ROUTES);
		if (parse_route(lc, value, &c->routes[c->nroutes]) == 1)
			c->nroutes++;
	} else {
		return fail(lc, lc->lineno, "dataplane", name, "unknown key");
	}
	return 1;
}

static struct dpconf_port *
port_section(struct load_ctx *lc, const char *section)
{
	struct dpconf *c = lc->c;
	const char *name = section + strlen("port ");
	struct dpconf_port *p;

	if (lc->port != NULL && strcmp(lc->port->name, name) == 0)
		return lc->port;
	if (name[0] == '\0' || strlen(name) > LB_IFNAME_MAX ||
	    strpbrk(name, " \t/") != NULL) {
		fail(lc, lc->lineno, section, "", "bad port name '%s'", name);
		return NULL;
	}
	if (dpconf_port_find(c, name) != NULL) {
		fail(lc, lc->lineno, section, "", "port defined twice");
		return NULL;
	}
	if (c->nports == DPCONF_MAX_PORTS) {
		fail(lc, lc->lineno, section, "", "more than %d ports",
		     DPCONF_MAX_PORTS);
		return NULL;
	}
	p = &c->ports[c->nports++];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->line = lc->lineno;
	p->rx_desc = 1024;
	p->tx_desc = 1024;
	p->xdp_steer = -1;
	lc->port = p;
	return p;
}

static int
port_key(struct load_ctx *lc, const char *section, const char *name,
	 const char *value)
{
	struct dpconf_port *p = port_section(lc, section);
	uint32_t v;

	if (p == NULL)
		return 0;
	if (strcmp(name, "devargs") == 0) {
		if (value[0] == '\0' || strlen(value) >= sizeof(p->devargs))
			return fail(lc, lc->lineno, section, name,
				    "empty or longer than %zu bytes",
				    sizeof(p->devargs) - 1);
		snprintf(p->devargs, sizeof(p->devargs), "%s", value);
	} else if (strcmp(name, "address") == 0) {
		struct dpconf_addr *a = &p->addrs[p->naddrs];

		if (p->naddrs == DPCONF_MAX_ADDRS)
			return fail(lc, lc->lineno, section, name,
				    "more than %d addresses", DPCONF_MAX_ADDRS);
		if (parse_v4_prefix(value, &a->addr, &a->plen) < 0 ||
		    a->plen == 0 || a->addr == 0)
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not A.B.C.D/NN", value);
		a->line = lc->lineno;
		p->naddrs++;
	} else if (strcmp(name, "mtu") == 0) {
		if (lb_parse_u32(value, 68, 65535, &p->mtu) < 0)
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not in [68, 65535]", value);
	} else if (strcmp(name, "mac") == 0) {
		if (lb_mac_parse(value, p->mac) < 0 || (p->mac[0] & 1))
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not a unicast MAC", value);
		p->has_mac = true;
	} else if (strcmp(name, "vlan") == 0) {
		if (lb_parse_u32(value, 0, 4094, &v) < 0)
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not a VLAN id in [0, 4094]",
				    value);
		p->vlan = (uint16_t)v;
	} else if (strcmp(name, "xdp_steer") == 0) {
		bool on;

		if (!parse_bool(value, &on))
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not yes or no", value);
		p->xdp_steer = on ? 1 : 0;
	} else if (strcmp(name, "rx_desc") == 0 ||
		   strcmp(name, "tx_desc") == 0) {
		if (lb_parse_u32(value, 64, 32768, &v) < 0)
			return fail(lc, lc->lineno, section, name,
				    "'%s' is not in [64, 32768]", value);
		if (name[0] == 'r')
			p->rx_desc = (uint16_t)v;
		else
			p->tx_desc = (uint16_t)v;
	} else {
		return fail(lc, lc->lineno, section, name, "unknown key");
	}
	return 1;
}

static bool
is_foreign(const char *section)
{
	for (size_t i = 0;
	     i < sizeof(foreign_sections) / sizeof(*foreign_sections); i++)
		if (strcmp(section, foreign_sections[i]) == 0)
			return true;
	for (size_t i = 0;
	     i < sizeof(foreign_prefixes) / sizeof(*foreign_prefixes); i++)
		if (strncmp(section, foreign_prefixes[i],
			    strlen(foreign_prefixes[i])) == 0)
			return true;
	return false;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;

	if (lc->err != 0)
		return 1; /* report the first error only */
	if (strcmp(section, "dataplane") == 0)
		return dataplane_key(lc, name, value);
	if (strncmp(section, "port ", 5) == 0)
		return port_key(lc, section, name, value);
	if (is_foreign(section))
		return 1;
	if (section[0] == '\0')
		return fail(lc, lc->lineno, NULL, name,
			    "key '%s' outside any section", name);
	return fail(lc, lc->lineno, NULL, NULL, "unknown section [%s]",
		    section);
}

static char *
reader(char *str, int num, void *stream)
{
	struct load_ctx *lc = stream;
	char *s = fgets(str, num, lc->f);

	if (s != NULL)
		lc->lineno++;
	return s;
}

const struct dpconf_port *
dpconf_port_find(const struct dpconf *c, const char *name)
{
	for (unsigned int i = 0; i < c->nports; i++)
		if (strcmp(c->ports[i].name, name) == 0)
			return &c->ports[i];
	return NULL;
}

/* Whole-file checks once every line is in. */
static void
validate(struct load_ctx *lc)
{
	struct dpconf *c = lc->c;
	char sect[LB_IFNAME_MAX + 8];

	for (unsigned int i = 0; i < c->nports; i++) {
		struct dpconf_port *p = &c->ports[i];

		snprintf(sect, sizeof(sect), "port %s", p->name);
		if (p->devargs[0] == '\0') {
			fail(lc, p->line, sect, "devargs", "missing");
			return;
		}
		for (unsigned int j = 0; j < p->naddrs; j++) {
			struct dpconf_addr *a = &p->addrs[j];

			for (unsigned int k = 0; k <= i; k++) {
				struct dpconf_port *q = &c->ports[k];
				unsigned int lim = k == i ? j : q->naddrs;

				for (unsigned int l = 0; l < lim; l++) {
					struct dpconf_addr *b = &q->addrs[l];

					if (a->addr == b->addr) {
						fail(lc, a->line, sect,
						     "address",
						     "duplicate of line %d",
						     b->line);
						return;
					}
					if (k != i &&
					    dpconf_prefix_overlap(
						    a->addr, a->plen, b->addr,
						    b->plen)) {
						fail(lc, a->line, sect,
						     "address",
						     "overlaps port %s's "
						     "address (line %d)",
						     q->name, b->line);
						return;
					}
				}
			}
		}
	}
	for (unsigned int i = 0; i < c->nroutes; i++) {
		struct dpconf_route *r = &c->routes[i];

		if (r->dev[0] != '\0' && dpconf_port_find(c, r->dev) == NULL) {
			fail(lc, r->line, "dataplane", "route", "no [port %s]",
			     r->dev);
			return;
		}
	}
}

int
dpconf_load(struct dpconf *c, const char *path, char *err, size_t errlen)
{
	struct load_ctx lc = {
		.c = c,
		.path = path,
		.msg = err,
		.msglen = errlen,
	};
	int rc;

	err[0] = '\0';
	lc.f = fopen(path, "r");
	if (lc.f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = ini_parse_stream(reader, &lc, handler, &lc);
	fclose(lc.f);
	if (lc.err == 0 && rc != 0)
		fail(&lc, rc > 0 ? rc : 0, NULL, NULL,
		     rc > 0 ? "syntax error" : "cannot read");
	if (lc.err == 0)
		validate(&lc);
	return lc.err;
}
