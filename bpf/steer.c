/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * steer: keep the xdp_steer program's steer_map in sync from user space
 * and read its counters. See steer.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "steer.h"
#include "xdpmap.h"

struct steer {
	int map_fd;
	int stats_fd; /* -1 if absent */
};

static const char *const stat_names[LB_STEER_STAT_MAX] = {
	[LB_STEER_STAT_REDIRECTED] = "redirected",
	[LB_STEER_STAT_PASSED] = "passed",
	[LB_STEER_STAT_DROPPED] = "dropped",
	[LB_STEER_STAT_PARSE_ERR] = "parse_errors",
	[LB_STEER_STAT_NO_XSK] = "no_xsk",
};

const char *
steer_stat_name(unsigned int idx)
{
	return idx < LB_STEER_STAT_MAX ? stat_names[idx] : "?";
}

/* The map has steer_map's shape. */
static int
check_map(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	if (info.key_size != sizeof(struct steer_key) ||
	    info.value_size != sizeof(struct steer_value))
		return -EINVAL;
	return 0;
}

static struct steer *
steer_new(int map_fd, int stats_fd)
{
	struct steer *h;
	int err;

	err = check_map(map_fd);
	if (err < 0)
		goto err;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		err = -ENOMEM;
		goto err;
	}
	h->map_fd = map_fd;
	h->stats_fd = stats_fd;
	return h;
err:
	close(map_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	errno = -err;
	return NULL;
}

struct steer *
steer_open(const char *dir)
{
	char path[PATH_MAX];
	int map_fd, stats_fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, LB_STEER_MAP) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	map_fd = bpf_obj_get(path);
	if (map_fd < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, LB_STEER_STATS_MAP);
	stats_fd = bpf_obj_get(path);
	return steer_new(map_fd, stats_fd < 0 ? -1 : stats_fd);
}

struct steer *
steer_open_iface(const char *ifname)
{
	int ifindex, map_fd, stats_fd;

	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		errno = ENODEV;
		return NULL;
	}
	map_fd = xdpmap_find(ifindex, LB_STEER_MAP);
	if (map_fd < 0) {
		errno = -map_fd;
		return NULL;
	}
	stats_fd = xdpmap_find(ifindex, LB_STEER_STATS_MAP);
	return steer_new(map_fd, stats_fd < 0 ? -1 : stats_fd);
}

int
steer_pin(struct steer *h, const char *dir)
{
	int err;

	err = xdpmap_pin(h->map_fd, dir, LB_STEER_MAP);
	if (err == 0 && h->stats_fd >= 0)
		err = xdpmap_pin(h->stats_fd, dir, LB_STEER_STATS_MAP);
	return err;
}

void
steer_close(struct steer *h)
{
	if (h == NULL)
		return;
	close(h->map_fd);
	if (h->stats_fd >= 0)
		close(h->stats_fd);
	free(h);
}

int
steer_key_init(struct steer_key *key, const struct lb_addr *addr, uint8_t proto,
	       uint16_t port)
{
	memset(key, 0, sizeof(*key));
	if (port != 0 && proto == 0)
		return -EINVAL;
	switch (addr->family) {
	case AF_INET:
		memcpy(key->addr, &addr->v4, 4);
		break;
	case AF_INET6:
		memcpy(key->addr, addr->v6, 16);
		break;
	default:
		return -EINVAL;
	}
	key->family = addr->family;
	key->proto = proto;
	key->port = htons(port);
	return 0;
}

const char *
steer_key_format(const struct steer_key *key, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	const char *proto;
	char pbuf[8];
	int v6 = key->family == AF_INET6;

	if (key->family == AF_INET || v6)
		inet_ntop(key->family, key->addr, a, sizeof(a));
	switch (key->proto) {
	case 0:
		proto = "any";
		break;
	case IPPROTO_TCP:
		proto = "tcp";
		break;
	case IPPROTO_UDP:
		proto = "udp";
		break;
	default:
		snprintf(pbuf, sizeof(pbuf), "%u", key->proto);
		proto = pbuf;
		break;
	}
	if (key->port == 0)
		snprintf(buf, len, "%s %s", proto, a);
	else
		snprintf(buf, len, v6 ? "%s [%s]:%u" : "%s %s:%u", proto, a,
			 ntohs(key->port));
	return buf;
}

int
steer_add_flags(struct steer *h, const struct steer_key *key, uint32_t flags)
{
	struct steer_value val = { .flags = flags };

	if (bpf_map_update_elem(h->map_fd, key, &val, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int
steer_add(struct steer *h, const struct steer_key *key)
{
	return steer_add_flags(h, key, 0);
}

int
steer_del(struct steer *h, const struct steer_key *key)
{
	if (bpf_map_delete_elem(h->map_fd, key) < 0)
		return -errno;
	return 0;
}

int
steer_foreach(struct steer *h,
	      int (*fn)(const struct steer_key *key,
			const struct steer_value *val, void *arg),
	      void *arg)
{
	struct steer_key key, next;
	struct steer_value val;
	void *prev = NULL;
	int rc;

	while (bpf_map_get_next_key(h->map_fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		/* Deleted between the two calls: skip it. */
		if (bpf_map_lookup_elem(h->map_fd, &key, &val) < 0)
			continue;
		rc = fn(&key, &val, arg);
		if (rc != 0)
			return rc;
	}
	return errno == ENOENT ? 0 : -errno;
}

int
steer_stats(struct steer *h, struct steer_counters *out)
{
	struct xdpmap_counter c[LB_STEER_STAT_MAX];
	unsigned int i;
	int err;

	if (h->stats_fd < 0)
		return -ENOENT;
	err = xdpmap_counters(h->stats_fd, c, LB_STEER_STAT_MAX);
	if (err < 0)
		return err;
	for (i = 0; i < LB_STEER_STAT_MAX; i++) {
		out->packets[i] = c[i].packets;
		out->bytes[i] = c[i].bytes;
	}
	return 0;
}
