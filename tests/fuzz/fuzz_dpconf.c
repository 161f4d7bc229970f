/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for edgelb-dp's INI parser (dataplane/dpconf.c): the
 * input is the configuration file, loaded with dpconf_load over the
 * defaults as edgelb-dp does at start.
 *
 * Checked beyond ASan/UBSan: the result is 0 or a negative errno; a
 * failure has a message and success has none; what was accepted stays
 * inside the limits the rest of the dataplane relies on (table counts,
 * prefix lengths, routes naming existing ports, NUL-terminated strings,
 * no duplicate port address).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dpconf.h"
#include "fuzz_file.h"

static void
check_str(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		__builtin_trap();
}

static void
check(const struct dpconf *c)
{
	check_str(c->socket, sizeof(c->socket));
	check_str(c->socket_group, sizeof(c->socket_group));
	check_str(c->xdp_prog, sizeof(c->xdp_prog));
	check_str(c->xdp_pin_dir, sizeof(c->xdp_pin_dir));
	if (c->nports > DPCONF_MAX_PORTS || c->nroutes > DPCONF_MAX_ROUTES ||
	    c->max_conns < DPCONF_MIN_MAX_CONNS ||
	    c->max_conns > DPCONF_MAX_MAX_CONNS)
		__builtin_trap();
	for (unsigned int i = 0; i < c->nroutes; i++) {
		const struct dpconf_route *r = &c->routes[i];

		check_str(r->dev, sizeof(r->dev));
		if (r->plen > 32 || (r->dst & ~dpconf_mask(r->plen)) != 0 ||
		    (r->dev[0] != '\0' && dpconf_port_find(c, r->dev) == NULL))
			__builtin_trap();
	}
	for (unsigned int i = 0; i < c->nports; i++) {
		const struct dpconf_port *p = &c->ports[i];

		check_str(p->name, sizeof(p->name));
		check_str(p->devargs, sizeof(p->devargs));
		if (p->naddrs > DPCONF_MAX_ADDRS || p->devargs[0] == '\0' ||
		    p->name[0] == '\0' || dpconf_port_find(c, p->name) != p)
			__builtin_trap();
		for (unsigned int j = 0; j < p->naddrs; j++) {
			if (p->addrs[j].plen > 32)
				__builtin_trap();
			for (unsigned int k = 0; k < j; k++)
				if (p->addrs[k].addr == p->addrs[j].addr)
					__builtin_trap();
		}
	}
	if (c->tmo.syn_recv > DPCONF_TIMEOUT_MAX ||
	    c->tmo.established > DPCONF_TIMEOUT_MAX ||
	    c->tmo.fin_wait > DPCONF_TIMEOUT_MAX ||
	    c->tmo.time_wait > DPCONF_TIMEOUT_MAX ||
	    c->tmo.close > DPCONF_TIMEOUT_MAX ||
	    c->tmo.udp > DPCONF_TIMEOUT_MAX)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dpconf c; /* 100+ KB: not on the stack */
	char path[64], err[512];
	int fd, rc;

	if (size > 64 * 1024)
		return 0;
	dpconf_defaults(&c);
	fd = fuzz_file(data, size, path, sizeof(path));
	memset(err, 'x', sizeof(err));
	rc = dpconf_load(&c, path, err, sizeof(err));
	close(fd);
	check_str(err, sizeof(err));
	if (rc > 0 || (rc < 0) != (err[0] != '\0'))
		__builtin_trap();
	if (rc == 0)
		check(&c);
	return 0;
}
