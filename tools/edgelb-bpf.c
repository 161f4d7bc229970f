/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * edgelb-bpf: load, inspect and remove the edgelb XDP programs.
 *
 *   edgelb-bpf decap attach IFACE (--allow-src A... | --any-src)
 *                              (--vip V... | --any-vip)
 *                              [--mode skb|native] [--addr A]... [--force]
 *   edgelb-bpf decap detach IFACE
 *   edgelb-bpf decap show IFACE [-j]
 *   edgelb-bpf steer attach IFACE [--mode skb|native] [--force]
 *   edgelb-bpf steer detach IFACE
 *   edgelb-bpf steer show IFACE [-j]
 *   edgelb-bpf steer add|del IFACE ADDR [tcp|udp PORT | neigh]
 *   edgelb-bpf steer pin IFACE
 *
 * Programs are attached through the kernel's netlink interface (they stay
 * attached after the tool exits) and their maps pinned under
 * PIN_DIR/IFACE/ (default /sys/fs/bpf/edgelb; a bpffs is mounted on
 * /sys/fs/bpf if there is none). "show" finds the maps through the program
 * attached to the interface, so it works without pins too, including for
 * xdp_steer loaded by DPDK's net_af_xdp through a libxdp dispatcher.
 *
 * decap (also spelt tun-decap) decapsulates only what a balancer sent to
 * a VIP: --allow-src names the balancers' addresses (the outer source),
 * --vip the VIPs (the inner destination, IPv4 or IPv6); an operator who
 * wants no such check says so with --any-src / --any-vip. --addr limits
 * the outer destinations (the backend's own addresses).
 *
 * Object files: --obj FILE, else $EDGELB_BPF_DIR/NAME.o, else the build
 * tree, else the install directory. Exit status 0 on success, 1 on error,
 * 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/resource.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "steer.h"
#include "tun_decap.h"
#include "xdpmap.h"

#ifndef EDGELB_BPF_BUILD_DIR
#define EDGELB_BPF_BUILD_DIR ""
#endif
#ifndef EDGELB_BPF_INSTALL_DIR
#define EDGELB_BPF_INSTALL_DIR "/usr/lib/edgelb/bpf"
#endif
#define DEFAULT_PIN_DIR "/sys/fs/bpf/edgelb"
#define MAX_ADDRS	64

struct opts {
	const char *obj;
	const char *pin_root;
	const char *ifname;
	int ifindex;
	uint32_t mode; /* XDP_FLAGS_*_MODE, 0 = let the kernel choose */
	bool force;
	bool json;
	bool verbose;
	int naddrs;
	uint32_t addrs[MAX_ADDRS]; /* --addr, network order */
	int nsrcs;
	uint32_t srcs[MAX_ADDRS]; /* --allow-src */
	int nvips, nvips6;
	uint32_t vips[MAX_ADDRS]; /* --vip, IPv4 */
	struct in6_addr vips6[MAX_ADDRS];
	bool any_src, any_vip;
};

/* One program kind: which object, which program, which maps to pin. */
struct kind {
	const char *name; /* "decap", "steer" */
	const char *file; /* object file name */
	const char *prog; /* program name */
	const char *const *maps;
};

static const char *const decap_maps[] = { LB_DECAP_STATS_MAP,
					  LB_DECAP_FILTER_MAP,
					  LB_DECAP_CFG_MAP,
					  LB_DECAP_SRC_MAP,
					  LB_DECAP_VIP_MAP,
					  LB_DECAP_VIP6_MAP,
					  NULL };
static const char *const steer_maps[] = { LB_STEER_MAP, LB_STEER_STATS_MAP,
					  LB_STEER_XSKS_MAP, NULL };

static const struct kind kind_decap = {
	.name = "decap",
	.file = "tun_decap.o",
	.prog = LB_DECAP_PROG,
	.maps = decap_maps,
};
static const struct kind kind_steer = {
	.name = "steer",
	.file = "xdp_steer.o",
	.prog = LB_STEER_PROG,
	.maps = steer_maps,
};

static const char *const decap_stat_names[LB_DECAP_STAT_MAX] = {
	[LB_DECAP_STAT_DECAPSULATED] = "decapsulated",
	[LB_DECAP_STAT_PASSED] = "passed",
	[LB_DECAP_STAT_DROPPED] = "dropped",
	[LB_DECAP_STAT_FILTERED] = "filtered",
	[LB_DECAP_STAT_REFUSED_SRC] = "refused_source",
	[LB_DECAP_STAT_REFUSED_VIP] = "refused_vip",
};

static bool verbose;

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("edgelb-bpf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (level == LIBBPF_INFO && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int
libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBXDP_WARN && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void
usage(FILE *f)
{
	fputs("usage: edgelb-bpf [--obj FILE] [--pin-dir DIR] [-v] COMMAND\n"
	      "  decap attach IFACE (--allow-src A... | --any-src) "
	      "(--vip V... | --any-vip)\n"
	      "               [--mode skb|native] [--addr A]... [--force]\n"
	      "  decap detach IFACE\n"
	      "  decap show IFACE [-j]\n"
	      "  steer attach IFACE [--mode skb|native] [--force]\n"
	      "  steer detach IFACE\n"
	      "  steer show IFACE [-j]\n"
	      "  steer add|del IFACE ADDR [tcp|udp PORT | neigh]\n"
	      "  steer pin IFACE\n",
	      f);
}

/* Path of the object file for k into buf; -ENOENT if none is found. */
static int
find_obj(const struct opts *o, const struct kind *k, char *buf, size_t len)
{
	const char *dirs[3];
	unsigned int i;

	if (o->obj != NULL) {
		snprintf(buf, len, "%s", o->obj);
		return access(buf, R_OK) == 0 ? 0 : -errno;
	}
	dirs[0] = getenv("EDGELB_BPF_DIR");
	dirs[1] = EDGELB_BPF_BUILD_DIR;
	dirs[2] = EDGELB_BPF_INSTALL_DIR;
	for (i = 0; i < 3; i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		snprintf(buf, len, "%s/%s", dirs[i], k->file);
		if (access(buf, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static int
pin_dir(const struct opts *o, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s/%s", o->pin_root, o->ifname) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

/* Remove PIN_DIR/IFACE/<maps> and the directory; missing ones are fine. */
static void
unpin(const struct opts *o, const struct kind *k)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	unsigned int i;

	if (pin_dir(o, dir, sizeof(dir)) < 0)
		return;
	for (i = 0; k->maps[i] != NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, k->maps[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* Pin every map of k that obj (or the attached program) has. */
static int
pin_maps(const struct opts *o, const struct kind *k)
{
	char dir[PATH_MAX];
	unsigned int i;
	int fd, err;

	err = pin_dir(o, dir, sizeof(dir));
	if (err == 0)
		err = xdpmap_prepare_pin_dir(dir);
	for (i = 0; err == 0 && k->maps[i] != NULL; i++) {
		fd = xdpmap_find(o->ifindex, k->maps[i]);
		if (fd < 0) {
			err = fd;
			break;
		}
		err = xdpmap_pin(fd, dir, k->maps[i]);
		close(fd);
	}
	if (err < 0)
		fail("pinning maps under %s: %s", dir, strerror(-err));
	return err;
}

/* Put every key of keys[n] (size ksz each) into the map called name. */
static int
map_fill(struct bpf_object *obj, const char *name, const void *keys, size_t ksz,
	 int n)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
	uint32_t one = 1;
	int i;

	if (m == NULL)
		return -ENOENT;
	for (i = 0; i < n; i++)
		if (bpf_map__update_elem(m, (const char *)keys + i * ksz, ksz,
					 &one, sizeof(one), BPF_ANY) < 0)
			return -errno;
	return 0;
}

static int
decap_configure(struct bpf_object *obj, const struct opts *o)
{
	struct decap_cfg cfg = { .flags = 0 };
	uint32_t zero = 0;
	struct bpf_map *m;
	int err;

	if ((err = map_fill(obj, LB_DECAP_FILTER_MAP, o->addrs,
			    sizeof(o->addrs[0]), o->naddrs)) < 0 ||
	    (err = map_fill(obj, LB_DECAP_SRC_MAP, o->srcs, sizeof(o->srcs[0]),
			    o->nsrcs)) < 0 ||
	    (err = map_fill(obj, LB_DECAP_VIP_MAP, o->vips, sizeof(o->vips[0]),
			    o->nvips)) < 0 ||
	    (err = map_fill(obj, LB_DECAP_VIP6_MAP, o->vips6,
			    sizeof(o->vips6[0]), o->nvips6)) < 0)
		return err;
	if (o->naddrs > 0)
		cfg.flags |= LB_DECAP_F_FILTER;
	if (o->any_src)
		cfg.flags |= LB_DECAP_F_ANY_SRC;
	if (o->any_vip)
		cfg.flags |= LB_DECAP_F_ANY_VIP;
	m = bpf_object__find_map_by_name(obj, LB_DECAP_CFG_MAP);
	if (m == NULL)
		return -ENOENT;
	if (bpf_map__update_elem(m, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 BPF_ANY) < 0)
		return -errno;
	return 0;
}

static int
cmd_attach(const struct opts *o, const struct kind *k)
{
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	char path[PATH_MAX];
	uint32_t flags;
	int err;

	err = find_obj(o, k, path, sizeof(path));
	if (err < 0) {
		fail("cannot find %s (use --obj or EDGELB_BPF_DIR)", k->file);
		return 1;
	}
	obj = bpf_object__open_file(path, NULL);
	err = libbpf_get_error(obj);
	if (err) {
		obj = NULL;
		fail("%s: %s", path, strerror(-err));
		goto err;
	}
	err = bpf_object__load(obj);
	if (err) {
		fail("%s: load: %s", path, strerror(-err));
		goto err;
	}
	prog = bpf_object__find_program_by_name(obj, k->prog);
	if (prog == NULL) {
		err = -ENOENT;
		fail("%s: no program %s", path, k->prog);
		goto err;
	}
	if (k == &kind_steer && (o->naddrs || o->nsrcs || o->nvips ||
				 o->nvips6 || o->any_src || o->any_vip)) {
		err = -EINVAL;
		fail("--addr, --allow-src, --vip, --any-* are for decap only");
		goto err;
	}
	if (k == &kind_decap && (o->nsrcs == 0) == !o->any_src) {
		err = -EINVAL;
		fail("decap needs the balancers' addresses (--allow-src A) or "
		     "--any-src, not both");
		goto err;
	}
	if (k == &kind_decap && (o->nvips + o->nvips6 == 0) == !o->any_vip) {
		err = -EINVAL;
		fail("decap needs the VIPs (--vip V) or --any-vip, not both");
		goto err;
	}
	if (k == &kind_decap) {
		err = decap_configure(obj, o);
		if (err < 0) {
			fail("configuring %s: %s", k->prog, strerror(-err));
			goto err;
		}
	}
	flags = o->mode | (o->force ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST);
	err = bpf_xdp_attach(o->ifindex, bpf_program__fd(prog), flags, NULL);
	if (err) {
		fail("attaching %s to %s: %s%s", k->prog, o->ifname,
		     strerror(-err),
		     err == -EBUSY || err == -EEXIST
			     ? " (a program is attached; detach it or --force)"
			     : "");
		goto err;
	}
	/* Attached: a pinning problem is reported but not undone. */
	pin_maps(o, k);
	bpf_object__close(obj);
	return 0;
err:
	bpf_object__close(obj);
	return 1;
}

static int
cmd_detach(const struct opts *o, const struct kind *k)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, aopts);
	char name[BPF_OBJ_NAME_LEN];
	uint32_t id, flags;
	int fd, err;

	err = xdpmap_attached(o->ifindex, &id, name, &flags);
	if (err == -ENOENT) {
		fail("no XDP program on %s", o->ifname);
		return 1;
	}
	if (err < 0) {
		fail("querying %s: %s", o->ifname, strerror(-err));
		return 1;
	}
	if (strcmp(name, k->prog) != 0) {
		fail("%s runs XDP program %s (id %u), not %s: not detaching",
		     o->ifname, name, id, k->prog);
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fail("program %u: %s", id, strerror(errno));
		return 1;
	}
	/* Replace exactly the program we checked, by nothing. */
	aopts.old_prog_fd = fd;
	err = bpf_xdp_detach(o->ifindex, flags | XDP_FLAGS_REPLACE, &aopts);
	close(fd);
	if (err) {
		fail("detaching from %s: %s", o->ifname, strerror(-err));
		return 1;
	}
	unpin(o, k);
	return 0;
}

static const char *
mode_name(uint32_t flags)
{
	switch (flags) {
	case XDP_FLAGS_SKB_MODE:
		return "skb";
	case XDP_FLAGS_DRV_MODE:
		return "native";
	case XDP_FLAGS_HW_MODE:
		return "hw";
	}
	return "unknown";
}

static void
print_counters(const struct opts *o, const char *const *names,
	       const struct xdpmap_counter *c, unsigned int n)
{
	unsigned int i;

	if (o->json) {
		printf("\"counters\":{");
		for (i = 0; i < n; i++)
			printf("%s\"%s\":{\"packets\":%" PRIu64
			       ",\"bytes\":%" PRIu64 "}",
			       i ? "," : "", names[i], c[i].packets,
			       c[i].bytes);
		printf("}");
		return;
	}
	for (i = 0; i < n; i++)
		printf("  %-14s %12" PRIu64 " packets %14" PRIu64 " bytes\n",
		       names[i], c[i].packets, c[i].bytes);
}

/* Header of "show": the attached program. */
static void
print_prog(const struct opts *o, const char *what)
{
	char name[BPF_OBJ_NAME_LEN] = "?";
	uint32_t id = 0, flags = 0;

	xdpmap_attached(o->ifindex, &id, name, &flags);
	if (o->json)
		printf("{\"iface\":\"%s\",\"program\":\"%s\",\"prog_id\":%u,"
		       "\"mode\":\"%s\",",
		       o->ifname, name, id, mode_name(flags));
	else
		printf("%s on %s: program %s id %u, %s mode\n", what, o->ifname,
		       name, id, mode_name(flags));
}

/*
 * One allow list of tun_decap: "any" or the keys of map (IPv4 or IPv6).
 * title NULL: continue the previous list (text) under its own JSON key.
 */
static void
print_allowed(const struct opts *o, const char *key, const char *title,
	      bool any, const char *map, bool v6)
{
	uint8_t k[16], next[16];
	char a[INET6_ADDRSTRLEN];
	void *prev = NULL;
	int fd = xdpmap_find(o->ifindex, map), n = 0;

	if (o->json)
		printf(",\"%s\":%s", key, any ? "\"any\"" : "[");
	else if (title != NULL)
		printf("  %s: %s\n", title, any ? "any" : "only these");
	while (!any && fd >= 0 && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(k, next, sizeof(k));
		prev = k;
		inet_ntop(v6 ? AF_INET6 : AF_INET, k, a, sizeof(a));
		if (o->json)
			printf("%s\"%s\"", n++ ? "," : "", a);
		else
			printf("    %s\n", a);
	}
	if (o->json && !any)
		printf("]");
	if (fd >= 0)
		close(fd);
}

static int
cmd_decap_show(const struct opts *o)
{
	struct xdpmap_counter c[LB_DECAP_STAT_MAX];
	int stats_fd, filter_fd = -1, cfg_fd = -1;
	struct decap_cfg cfg = { .flags = 0 };
	uint32_t key, next, zero = 0;
	void *prev = NULL;
	int err, n = 0;

	stats_fd = xdpmap_find(o->ifindex, LB_DECAP_STATS_MAP);
	if (stats_fd < 0) {
		fail("no %s on %s", LB_DECAP_PROG, o->ifname);
		return 1;
	}
	err = xdpmap_counters(stats_fd, c, LB_DECAP_STAT_MAX);
	if (err < 0) {
		fail("reading counters: %s", strerror(-err));
		goto out;
	}
	cfg_fd = xdpmap_find(o->ifindex, LB_DECAP_CFG_MAP);
	filter_fd = xdpmap_find(o->ifindex, LB_DECAP_FILTER_MAP);
	if (cfg_fd >= 0)
		bpf_map_lookup_elem(cfg_fd, &zero, &cfg);
	print_prog(o, LB_DECAP_PROG);
	print_counters(o, decap_stat_names, c, LB_DECAP_STAT_MAX);
	if (o->json)
		printf(",\"filter\":%s,\"addresses\":[",
		       cfg.flags & LB_DECAP_F_FILTER ? "true" : "false");
	else
		printf("  filter: %s\n",
		       cfg.flags & LB_DECAP_F_FILTER
			       ? "only these outer destinations"
			       : "off (every IPIP packet)");
	while (filter_fd >= 0 &&
	       bpf_map_get_next_key(filter_fd, prev, &next) == 0) {
		char a[INET_ADDRSTRLEN];

		key = next;
		prev = &key;
		inet_ntop(AF_INET, &key, a, sizeof(a));
		if (o->json)
			printf("%s\"%s\"", n++ ? "," : "", a);
		else
			printf("    %s\n", a);
	}
	if (o->json)
		printf("]");
	print_allowed(o, "allow_src", "balancers (outer sources)",
		      cfg.flags & LB_DECAP_F_ANY_SRC, LB_DECAP_SRC_MAP, false);
	print_allowed(o, "vips", "VIPs (inner destinations)",
		      cfg.flags & LB_DECAP_F_ANY_VIP, LB_DECAP_VIP_MAP, false);
	if (!(cfg.flags & LB_DECAP_F_ANY_VIP))
		print_allowed(o, "vips6", NULL, false, LB_DECAP_VIP6_MAP, true);
	if (o->json)
		printf("}\n");
out:
	close(stats_fd);
	if (cfg_fd >= 0)
		close(cfg_fd);
	if (filter_fd >= 0)
		close(filter_fd);
	return err < 0 ? 1 : 0;
}

struct show_ctx {
	const struct opts *o;
	int n;
};

static int
print_entry(const struct steer_key *key, const struct steer_value *val,
	    void *arg)
{
	struct show_ctx *s = arg;
	char buf[LB_STEER_KEYSTRLEN];

	steer_key_format(key, buf, sizeof(buf));
	if (s->o->json)
		printf("%s{\"match\":\"%s\",\"flags\":%u}", s->n ? "," : "",
		       buf, val->flags);
	else
		printf("    %s%s%s\n", buf,
		       val->flags & LB_STEER_F_NEIGH ? " (arp/nd only)" : "",
		       val->flags & LB_STEER_F_DROP ? " (drop)" : "");
	s->n++;
	return 0;
}

static int
cmd_steer_show(const struct opts *o)
{
	struct xdpmap_counter c[LB_STEER_STAT_MAX];
	const char *names[LB_STEER_STAT_MAX];
	struct show_ctx s = { .o = o, .n = 0 };
	struct steer_counters sc;
	struct steer *h;
	unsigned int i;
	int err;

	h = steer_open_iface(o->ifname);
	if (h == NULL) {
		fail("no %s on %s: %s", LB_STEER_PROG, o->ifname,
		     strerror(errno));
		return 1;
	}
	err = steer_stats(h, &sc);
	if (err < 0) {
		fail("reading counters: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < LB_STEER_STAT_MAX; i++) {
		names[i] = steer_stat_name(i);
		c[i].packets = sc.packets[i];
		c[i].bytes = sc.bytes[i];
	}
	print_prog(o, LB_STEER_PROG);
	print_counters(o, names, c, LB_STEER_STAT_MAX);
	printf(o->json ? ",\"entries\":[" : "  steered:\n");
	err = steer_foreach(h, print_entry, &s);
	if (o->json)
		printf("]}\n");
	if (err < 0)
		fail("reading %s: %s", LB_STEER_MAP, strerror(-err));
out:
	steer_close(h);
	return err < 0 ? 1 : 0;
}

/*
 * steer add|del IFACE ADDR [tcp|udp PORT | neigh]: argv points at ADDR.
 * "neigh" adds an address entry that matches only ARP/ND.
 */
static int
cmd_steer_edit(const struct opts *o, bool add, int argc, char **argv)
{
	struct lb_addr a = { 0 };
	struct steer_key key;
	uint32_t flags = 0;
	struct steer *h;
	uint8_t proto = 0;
	long port = 0;
	char *end;
	int err;

	if (argc == 2 && strcmp(argv[1], "neigh") == 0) {
		flags = LB_STEER_F_NEIGH;
		argc = 1;
	}
	if (argc != 1 && argc != 3)
		return 2;
	if (inet_pton(AF_INET, argv[0], &a.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, argv[0], a.v6) == 1)
		a.family = AF_INET6;
	else
		return 2;
	if (argc == 3) {
		if (strcasecmp(argv[1], "tcp") == 0)
			proto = IPPROTO_TCP;
		else if (strcasecmp(argv[1], "udp") == 0)
			proto = IPPROTO_UDP;
		else
			return 2;
		errno = 0;
		port = strtol(argv[2], &end, 10);
		if (errno || *end != '\0' || port < 1 || port > 65535)
			return 2;
	}
	if (steer_key_init(&key, &a, proto, (uint16_t)port) < 0)
		return 2;
	h = steer_open_iface(o->ifname);
	if (h == NULL) {
		fail("no %s on %s: %s", LB_STEER_PROG, o->ifname,
		     strerror(errno));
		return 1;
	}
	err = add ? steer_add_flags(h, &key, flags) : steer_del(h, &key);
	steer_close(h);
	if (err < 0) {
		fail("%s: %s", add ? "add" : "del", strerror(-err));
		return 1;
	}
	return 0;
}

static int
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "obj", required_argument, NULL, 'o' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "addr", required_argument, NULL, 'a' },
		{ "allow-src", required_argument, NULL, 's' },
		{ "vip", required_argument, NULL, 'V' },
		{ "any-src", no_argument, NULL, 'S' },
		{ "any-vip", no_argument, NULL, 'A' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:p:m:a:fjvh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'o':
			o->obj = optarg;
			break;
		case 'p':
			o->pin_root = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "skb") == 0 ||
			    strcmp(optarg, "generic") == 0)
				o->mode = XDP_FLAGS_SKB_MODE;
			else if (strcmp(optarg, "native") == 0 ||
				 strcmp(optarg, "drv") == 0)
				o->mode = XDP_FLAGS_DRV_MODE;
			else
				return -1;
			break;
		case 'a':
			if (o->naddrs == MAX_ADDRS ||
			    inet_pton(AF_INET, optarg, &o->addrs[o->naddrs]) !=
				    1)
				return -1;
			o->naddrs++;
			break;
		case 's':
			if (o->nsrcs == MAX_ADDRS ||
			    inet_pton(AF_INET, optarg, &o->srcs[o->nsrcs]) != 1)
				return -1;
			o->nsrcs++;
			break;
		case 'V':
			if (o->nvips < MAX_ADDRS &&
			    inet_pton(AF_INET, optarg, &o->vips[o->nvips]) == 1)
				o->nvips++;
			else if (o->nvips6 < MAX_ADDRS &&
				 inet_pton(AF_INET6, optarg,
					   &o->vips6[o->nvips6]) == 1)
				o->nvips6++;
			else
				return -1;
			break;
		case 'S':
			o->any_src = true;
			break;
		case 'A':
			o->any_vip = true;
			break;
		case 'f':
			o->force = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct opts o = { 0 };
	const struct kind *k;
	const char *what, *verb;
	int rc;

	o.pin_root = getenv("EDGELB_BPF_PIN_DIR");
	if (o.pin_root == NULL)
		o.pin_root = DEFAULT_PIN_DIR;
	if (parse_opts(&o, argc, argv) < 0 || argc - optind < 3)
		goto usage;
	verbose = o.verbose;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
	what = argv[optind];
	verb = argv[optind + 1];
	o.ifname = argv[optind + 2];
	if (strcmp(what, "decap") == 0 || strcmp(what, "tun-decap") == 0)
		k = &kind_decap;
	else if (strcmp(what, "steer") == 0)
		k = &kind_steer;
	else
		goto usage;
	o.ifindex = if_nametoindex(o.ifname);
	if (o.ifindex == 0) {
		fail("%s: no such interface", o.ifname);
		return 1;
	}
	/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 && verbose)
		fail("setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));

	rc = 2;
	if (strcmp(verb, "attach") == 0)
		rc = argc - optind == 3 ? cmd_attach(&o, k) : 2;
	else if (strcmp(verb, "detach") == 0)
		rc = argc - optind == 3 ? cmd_detach(&o, k) : 2;
	else if (strcmp(verb, "show") == 0 && argc - optind == 3)
		rc = k == &kind_decap ? cmd_decap_show(&o) : cmd_steer_show(&o);
	else if (k == &kind_steer && strcmp(verb, "pin") == 0)
		rc = pin_maps(&o, k) < 0 ? 1 : 0;
	else if (k == &kind_steer &&
		 (strcmp(verb, "add") == 0 || strcmp(verb, "del") == 0))
		rc = cmd_steer_edit(&o, verb[0] == 'a', argc - optind - 3,
				    argv + optind + 3);
	if (rc != 2)
		return rc;
usage:
	usage(stderr);
	return 2;
}
