/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * XDP steering sync for net_af_xdp ports. See xdp.h.
 *
 * State: per port, the steer handle and the port addresses last seen in
 * dp->addrs; once for all ports, the service addresses the svc callback
 * reported. A key is in a port's steer_map while either set wants it
 * (and the kernel does not own the address on that interface): removing
 * it from one set leaves it when the other still holds it.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/capability.h>

#include <rte_common.h>

#include "edgelb/log.h"
#include "edgelb/util.h"
#include "arp.h"
#include "port.h"
#include "steer.h"
#include "xdp.h"
#include "xdpmap.h"

#ifndef EDGELB_BPF_BUILD_DIR
#define EDGELB_BPF_BUILD_DIR ""
#endif
#ifndef EDGELB_BPF_INSTALL_DIR
#define EDGELB_BPF_INSTALL_DIR "/usr/lib/edgelb/bpf"
#endif

#define XDP_DRIVER "net_af_xdp"

struct xdp_port {
	bool af_xdp;   /* devargs name a net_af_xdp device */
	bool sync;     /* keep its steer_map in sync */
	bool own_prog; /* the operator's xdp_prog= in the devargs */
	bool pinned;
	char ifname[IF_NAMESIZE];
	char pin_dir[PATH_MAX];
	struct steer *h; /* NULL until xdp_start, or when not synced */
	/* port addresses (network order) as last synced from dp->addrs */
	uint32_t addrs[PORT_MAX_ADDRS];
	uint32_t naddrs;
	uint64_t sync_errors;
	struct steer_counters base; /* at the last STATS_ZERO */
};

struct xdp_ctx {
	struct xdp_port port[DP_MAX_PORTS];
	struct lb_addr *svc; /* VIPs and local addresses, unordered */
	uint32_t nsvc;
	size_t cap;
};

/* ---- helpers ------------------------------------------------------------ */

/* net_af_xdp0, net_af_xdp1, ...: the device name starts the devargs. */
static bool
is_af_xdp(const char *devargs)
{
	return strncmp(devargs, XDP_DRIVER, strlen(XDP_DRIVER)) == 0;
}

/* The value of key= among the comma-separated devargs, into buf. */
static bool
devargs_get(const char *devargs, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);
	const char *p = strchr(devargs, ',');

	while (p != NULL) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, ",");

			if (n >= len)
				return false;
			memcpy(buf, p + klen + 1, n);
			buf[n] = '\0';
			return true;
		}
		p = strchr(p, ',');
	}
	return false;
}

static bool
readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* xdp_steer.o: [dataplane] xdp_prog, $EDGELB_BPF_DIR, build, install. */
static int
find_obj(const struct dpconf *c, const char *path, char *buf, size_t len,
	 char *err, size_t errlen)
{
	const char *dirs[] = {
		getenv("EDGELB_BPF_DIR"),
		EDGELB_BPF_BUILD_DIR,
		EDGELB_BPF_INSTALL_DIR,
	};

	if (c->xdp_prog[0] != '\0') {
		if (!readable(c->xdp_prog)) {
			snprintf(err, errlen,
				 "%s: [dataplane] xdp_prog: cannot read %s: %s",
				 path, c->xdp_prog, strerror(errno));
			return -ENOENT;
		}
		snprintf(buf, len, "%s", c->xdp_prog);
		return 0;
	}
	for (size_t i = 0; i < RTE_DIM(dirs); i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		snprintf(buf, len, "%s/%s", dirs[i], XDP_STEER_OBJ);
		if (readable(buf))
			return 0;
	}
	snprintf(err, errlen,
		 "no %s found (looked in $EDGELB_BPF_DIR, %s, %s): set "
		 "[dataplane] xdp_prog = PATH, or xdp_steer = no to let "
		 "net_af_xdp take every packet",
		 XDP_STEER_OBJ,
		 EDGELB_BPF_BUILD_DIR[0] ? EDGELB_BPF_BUILD_DIR
					 : "(no build dir)",
		 EDGELB_BPF_INSTALL_DIR);
	return -ENOENT;
}

/* Whether the kernel holds a on interface ifname (then we leave it). */
static bool
kernel_owns(const char *ifname, const struct lb_addr *a)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i != NULL && !found; i = i->ifa_next) {
		struct lb_addr k;

		if (i->ifa_addr == NULL || strcmp(i->ifa_name, ifname) != 0 ||
		    i->ifa_addr->sa_family != a->family)
			continue;
		if (a->family == AF_INET)
			lb_addr_from_bytes(
				&k,
				&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				4);
		else
			lb_addr_from_bytes(&k,
					   &((struct sockaddr_in6 *)i->ifa_addr)
						    ->sin6_addr,
					   16);
		found = lb_addr_equal(&k, a);
	}
	freeifaddrs(ifa);
	return found;
}

static bool
port_has_addr(const struct xdp_port *xp, const struct lb_addr *a)
{
	if (a->family != AF_INET)
		return false;
	for (uint32_t i = 0; i < xp->naddrs; i++)
		if (xp->addrs[i] == a->v4)
			return true;
	return false;
}

static int
svc_find(const struct xdp_ctx *xc, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < xc->nsvc; i++)
		if (lb_addr_equal(&xc->svc[i], a))
			return (int)i;
	return -1;
}

/* Install an address-only key for a on a synced port. */
static void
steer_addr_add(struct xdp_port *xp, const char *port, const struct lb_addr *a)
{
	char buf[LB_ADDRSTRLEN];
	struct steer_key k;
	int rc;

	if (kernel_owns(xp->ifname, a)) {
		LB_WARN("port %s: %s is also the kernel's address on %s: left "
			"to the kernel, not steered to the dataplane",
			port, lb_addr_format(a, buf, sizeof(buf)), xp->ifname);
		return;
	}
	rc = steer_key_init(&k, a, 0, 0);
	if (rc == 0)
		rc = steer_add(xp->h, &k);
	if (rc < 0) {
		xp->sync_errors++;
		LB_WARN("port %s: cannot steer %s on %s: %s%s", port,
			lb_addr_format(a, buf, sizeof(buf)), xp->ifname,
			strerror(-rc),
			rc == -E2BIG ? " (steer_map is full)" : "");
	}
}

static void
steer_addr_del(struct xdp_port *xp, const char *port, const struct lb_addr *a)
{
	char buf[LB_ADDRSTRLEN];
	struct steer_key k;
	int rc;

	rc = steer_key_init(&k, a, 0, 0);
	if (rc == 0)
		rc = steer_del(xp->h, &k);
	/* -ENOENT: never installed (e.g. the kernel's address) */
	if (rc < 0 && rc != -ENOENT) {
		xp->sync_errors++;
		LB_WARN("port %s: cannot remove %s from steer_map on %s: %s",
			port, lb_addr_format(a, buf, sizeof(buf)), xp->ifname,
			strerror(-rc));
	}
}

/* ---- start-up --------------------------------------------------------- */

/* CAP_IPC_LOCK exempts the AF_XDP UMEM from RLIMIT_MEMLOCK. */
static bool
has_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return (d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &
		CAP_TO_MASK(CAP_IPC_LOCK)) != 0;
}

/* Kernels from 5.11 charge BPF maps to the memory cgroup, not memlock. */
static bool
bpf_uses_memcg(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 5 || (major == 5 && minor >= 11);
}

/*
 * Unlimited RLIMIT_MEMLOCK for the XDP program's maps and the UMEM. Where
 * the limit cannot be raised (no CAP_SYS_RESOURCE, e.g. in a container)
 * and neither needs it, carry on.
 */
static int
raise_memlock(char *err, size_t errlen)
{
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
	int e;

	if (setrlimit(RLIMIT_MEMLOCK, &r) == 0)
		return 0;
	e = errno;
	if (has_ipc_lock() && bpf_uses_memcg()) {
		LB_INFO("RLIMIT_MEMLOCK not raised (%s); not needed with "
			"CAP_IPC_LOCK on this kernel",
			strerror(e));
		return 0;
	}
	snprintf(err, errlen,
		 "net_af_xdp needs an unlimited RLIMIT_MEMLOCK and setrlimit "
		 "failed: %s (run as root with CAP_SYS_RESOURCE, or 'ulimit -l "
		 "unlimited' before starting)",
		 strerror(e));
	return -EPERM;
}

/* Append xdp_prog=obj to the devargs of pc. */
static int
add_prog(struct dpconf_port *pc, const char *obj, char *err, size_t errlen)
{
	size_t len = strlen(pc->devargs);
	int n;

	if (strchr(obj, ',') != NULL) {
		snprintf(err, errlen, "xdp_prog path '%s' contains a comma",
			 obj);
		return -EINVAL;
	}
	n = snprintf(pc->devargs + len, sizeof(pc->devargs) - len,
		     ",xdp_prog=%s", obj);
	if (n < 0 || (size_t)n >= sizeof(pc->devargs) - len) {
		pc->devargs[len] = '\0';
		snprintf(err, errlen,
			 "port %s: devargs with xdp_prog=%s exceed %d bytes",
			 pc->name, obj, DPCONF_DEVARGS_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

int
xdp_init(struct dp_ctx *dp, char *err, size_t errlen)
{
	struct dpconf *c = &dp->conf;
	char obj[PATH_MAX] = "";
	struct xdp_ctx *xc;
	unsigned int n = 0;
	int rc;

	for (unsigned int i = 0; i < c->nports; i++)
		n += is_af_xdp(c->ports[i].devargs);
	if (n == 0)
		return 0;
	rc = raise_memlock(err, errlen);
	if (rc < 0)
		return rc;
	xc = calloc(1, sizeof(*xc));
	if (xc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < c->nports; i++) {
		struct dpconf_port *pc = &c->ports[i];
		struct xdp_port *xp = &xc->port[i];

		if (!is_af_xdp(pc->devargs))
			continue;
		xp->af_xdp = true;
		if (!devargs_get(pc->devargs, "iface", xp->ifname,
				 sizeof(xp->ifname))) {
			snprintf(err, errlen,
				 "port %s: net_af_xdp devargs without a valid "
				 "iface=",
				 pc->name);
			rc = -EINVAL;
			goto err;
		}
		xp->sync = pc->xdp_steer < 0 ? c->xdp_steer : pc->xdp_steer;
		if (!xp->sync)
			continue;
		xp->own_prog = strstr(pc->devargs, ",xdp_prog=") != NULL;
		if (xp->own_prog)
			continue;
		if (obj[0] == '\0') {
			rc = find_obj(c, dp->conf_path, obj, sizeof(obj), err,
				      errlen);
			if (rc < 0)
				goto err;
		}
		rc = add_prog(pc, obj, err, errlen);
		if (rc < 0)
			goto err;
	}
	dp->xdp = xc;
	return 0;
err:
	free(xc);
	return rc;
}

/* Open, pin, fill one port's maps. */
static int
port_start(struct dp_ctx *dp, unsigned int i, char *err, size_t errlen)
{
	struct xdp_ctx *xc = dp->xdp;
	struct xdp_port *xp = &xc->port[i];
	const char *name = dp->conf.ports[i].name;
	char dir[PATH_MAX];
	int rc;

	xp->h = steer_open_iface(xp->ifname);
	if (xp->h == NULL) {
		rc = -errno;
		if (xp->own_prog) {
			LB_WARN("port %s: the XDP program given in devargs "
				"has no %s (%s): the port is not synced",
				name, LB_STEER_MAP, strerror(-rc));
			return 0;
		}
		snprintf(err, errlen,
			 "port %s: %s is not attached to %s (%s); was the "
			 "device given to EAL with --vdev? Give it in [port "
			 "%s] devargs only",
			 name, LB_STEER_PROG, xp->ifname, strerror(-rc), name);
		return -ENOENT;
	}
	rc = snprintf(dir, sizeof(dir), "%s/%s", dp->conf.xdp_pin_dir,
		      xp->ifname);
	if (rc >= (int)sizeof(dir)) {
		rc = -ENAMETOOLONG;
	} else {
		memcpy(xp->pin_dir, dir, sizeof(dir));
		rc = xdpmap_prepare_pin_dir(xp->pin_dir);
	}
	if (rc == 0)
		rc = steer_pin(xp->h, xp->pin_dir);
	if (rc < 0)
		LB_WARN("port %s: cannot pin the steering maps in %s: %s "
			"(edgelb-bpf steer show %s still finds them)",
			name, xp->pin_dir, strerror(-rc), xp->ifname);
	else
		xp->pinned = true;
	for (uint32_t j = 0; j < xc->nsvc; j++)
		steer_addr_add(xp, name, &xc->svc[j]);
	LB_INFO("port %s: %s on %s steers %u service address(es) to the "
		"dataplane%s%s",
		name, LB_STEER_PROG, xp->ifname, xc->nsvc,
		xp->pinned ? "; maps pinned in " : "",
		xp->pinned ? xp->pin_dir : "");
	return 0;
}

int
xdp_start(struct dp_ctx *dp, char *err, size_t errlen)
{
	struct xdp_ctx *xc = dp->xdp;
	int rc;

	if (xc == NULL)
		return 0;
	for (unsigned int i = 0; i < dp->nports; i++) {
		if (!xc->port[i].sync)
			continue;
		rc = port_start(dp, i, err, errlen);
		if (rc < 0)
			return rc;
	}
	xdp_poll(dp);
	return 0;
}

/* ---- keeping in sync ---------------------------------------------------- */

void
xdp_poll(struct dp_ctx *dp)
{
	struct xdp_ctx *xc = dp->xdp;
	const struct port_addr_set *s = dp->addrs;

	if (xc == NULL || s == NULL)
		return;
	for (unsigned int p = 0; p < dp->nports; p++) {
		struct xdp_port *xp = &xc->port[p];
		const char *name = dp->conf.ports[p].name;
		uint32_t j = 0;

		if (xp->h == NULL)
			continue;
		/* gone: drop the key unless a service still owns it */
		while (j < xp->naddrs) {
			struct lb_addr a = { .family = AF_INET,
					     .v4 = xp->addrs[j] };
			bool keep = false;

			for (uint32_t i = 0; i < s->n && !keep; i++)
				keep = s->a[i].port == p &&
				       s->a[i].addr == a.v4;
			if (keep) {
				j++;
				continue;
			}
			xp->addrs[j] = xp->addrs[--xp->naddrs];
			if (svc_find(xc, &a) < 0)
				steer_addr_del(xp, name, &a);
		}
		/* new */
		for (uint32_t i = 0; i < s->n; i++) {
			struct lb_addr a = { .family = AF_INET,
					     .v4 = s->a[i].addr };

			if (s->a[i].port != p || port_has_addr(xp, &a) ||
			    xp->naddrs == PORT_MAX_ADDRS)
				continue;
			xp->addrs[xp->naddrs++] = a.v4;
			if (svc_find(xc, &a) < 0)
				steer_addr_add(xp, name, &a);
		}
	}
}

void
xdp_svc_addr_cb(void *arg, const struct lb_addr *addr, bool added)
{
	struct dp_ctx *dp = arg;
	struct xdp_ctx *xc = dp->xdp;
	int idx;

	arp_svc_addr_cb(arg, addr, added);
	if (xc == NULL)
		return;
	idx = svc_find(xc, addr);
	if (added) {
		if (idx >= 0)
			return;
		if (lb_array_grow(&xc->svc, &xc->cap, (size_t)xc->nsvc + 1,
				  sizeof(*xc->svc)) < 0) {
			char buf[LB_ADDRSTRLEN];

			LB_ERR("xdp: out of memory: %s not steered",
			       lb_addr_format(addr, buf, sizeof(buf)));
			return;
		}
		xc->svc[xc->nsvc++] = *addr;
	} else {
		if (idx < 0)
			return;
		xc->svc[idx] = xc->svc[--xc->nsvc];
	}
	for (unsigned int p = 0; p < dp->nports; p++) {
		struct xdp_port *xp = &xc->port[p];
		const char *name = dp->conf.ports[p].name;

		if (xp->h == NULL || port_has_addr(xp, addr))
			continue;
		if (added)
			steer_addr_add(xp, name, addr);
		else
			steer_addr_del(xp, name, addr);
	}
}

/* ---- counters --------------------------------------------------------- */

static int
count_entry(const struct steer_key *key, const struct steer_value *val,
	    void *arg)
{
	(void)key, (void)val;
	(*(uint64_t *)arg)++;
	return 0;
}

static int
dump_port(struct dp_ctx *dp, struct lbmsg_req *req, unsigned int p)
{
	struct xdp_port *xp = &dp->xdp->port[p];
	struct nl_msg *msg;
	struct nlattr *list;
	struct steer_counters c;
	uint64_t entries = 0;
	char name[LB_STEER_STAT_MAX * 2][48];
	int rc;

	rc = steer_stats(xp->h, &c);
	if (rc < 0)
		memset(&c, 0, sizeof(c));
	if (steer_foreach(xp->h, count_entry, &entries) < 0)
		entries = 0;
	msg = lbmsg_req_part(req);
	if (msg == NULL)
		return -ENOMEM;
	if (nla_put_u8(msg, LB_ATTR_STATS_KIND, LB_STATS_XDP) < 0 ||
	    nla_put_string(msg, LB_ATTR_IFNAME, dp->ports[p]->name) < 0 ||
	    nla_put_u16(msg, LB_ATTR_PORT_ID, dp->ports[p]->id) < 0)
		goto full;
	list = nla_nest_start(msg, LB_ATTR_COUNTERS);
	if (list == NULL)
		goto full;
	for (unsigned int i = 0; i < LB_STEER_STAT_MAX; i++) {
		snprintf(name[2 * i], sizeof(name[0]), "%s_packets_total",
			 steer_stat_name(i));
		snprintf(name[2 * i + 1], sizeof(name[0]), "%s_bytes_total",
			 steer_stat_name(i));
		if (lbmsg_put_counter(msg, name[2 * i],
				      c.packets[i] - xp->base.packets[i]) < 0 ||
		    lbmsg_put_counter(msg, name[2 * i + 1],
				      c.bytes[i] - xp->base.bytes[i]) < 0)
			goto full;
	}
	if (lbmsg_put_counter(msg, "sync_errors_total", xp->sync_errors) < 0 ||
	    lbmsg_put_counter(msg, "entries", entries) < 0)
		goto full;
	nla_nest_end(msg, list);
	return lbmsg_req_send(req, msg);
full:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int
xdp_stats_dump(struct dp_ctx *dp, struct lbmsg_req *req)
{
	int rc = 0;

	if (dp->xdp == NULL)
		return 0;
	for (unsigned int p = 0; p < dp->nports && rc == 0; p++)
		if (dp->xdp->port[p].h != NULL)
			rc = dump_port(dp, req, p);
	return rc;
}

void
xdp_stats_zero(struct dp_ctx *dp)
{
	if (dp->xdp == NULL)
		return;
	for (unsigned int p = 0; p < dp->nports; p++) {
		struct xdp_port *xp = &dp->xdp->port[p];

		if (xp->h != NULL && steer_stats(xp->h, &xp->base) < 0)
			memset(&xp->base, 0, sizeof(xp->base));
		xp->sync_errors = 0;
	}
}

/* ---- shutdown ------------------------------------------------------------ */

static void
unpin(const char *dir)
{
	static const char *const maps[] = { LB_STEER_MAP, LB_STEER_STATS_MAP };
	char path[PATH_MAX + 32];

	for (size_t i = 0; i < RTE_DIM(maps); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[i]);
		unlink(path);
	}
	rmdir(dir);
}

void
xdp_fini(struct dp_ctx *dp)
{
	struct xdp_ctx *xc = dp->xdp;

	if (xc == NULL)
		return;
	for (unsigned int p = 0; p < DP_MAX_PORTS; p++) {
		struct xdp_port *xp = &xc->port[p];

		if (xp->pinned)
			unpin(xp->pin_dir);
		steer_close(xp->h);
	}
	free(xc->svc);
	free(xc);
	dp->xdp = NULL;
}
