/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xdpmap: locate the XDP program on an interface, the maps it uses, and
 * read per-CPU counters. See xdpmap.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "xdpmap.h"

#define XDPMAP_MAX_MAPS 64
#define XDPMAP_BPFFS	"/sys/fs/bpf"

/* The map called name among those prog_fd uses: fd, or -ENOENT. */
static int
map_of_prog(int prog_fd, const char *name)
{
	uint32_t ids[XDPMAP_MAX_MAPS];
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	uint32_t i, n;
	int fd;

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = XDPMAP_MAX_MAPS;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return -errno;
	n = info.nr_map_ids < XDPMAP_MAX_MAPS ? info.nr_map_ids
					      : XDPMAP_MAX_MAPS;
	for (i = 0; i < n; i++) {
		struct bpf_map_info minfo;
		uint32_t mlen = sizeof(minfo);

		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		memset(&minfo, 0, sizeof(minfo));
		if (bpf_obj_get_info_by_fd(fd, &minfo, &mlen) == 0 &&
		    strncmp(minfo.name, name, sizeof(minfo.name)) == 0)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

int
xdpmap_find(int ifindex, const char *name)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int fd = -ENOENT;
	long err;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (err)
		return err < 0 ? (int)err : -ENOENT;
	if (mp == NULL)
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p != NULL)
			fd = map_of_prog(xdp_program__fd(p), name);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p != NULL;
		     p = xdp_multiprog__next_prog(p, mp)) {
			fd = map_of_prog(xdp_program__fd(p), name);
			if (fd >= 0)
				break;
		}
	}
	xdp_multiprog__close(mp);
	return fd;
}

int
xdpmap_attached(int ifindex, uint32_t *prog_id, char *name, uint32_t *xdp_flags)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd, err;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err < 0)
		return err;
	if (q.prog_id == 0)
		return -ENOENT;
	*prog_id = q.prog_id;
	if (xdp_flags != NULL) {
		switch (q.attach_mode) {
		case XDP_ATTACHED_SKB:
			*xdp_flags = XDP_FLAGS_SKB_MODE;
			break;
		case XDP_ATTACHED_DRV:
			*xdp_flags = XDP_FLAGS_DRV_MODE;
			break;
		case XDP_ATTACHED_HW:
			*xdp_flags = XDP_FLAGS_HW_MODE;
			break;
		default:
			*xdp_flags = 0;
			break;
		}
	}
	if (name == NULL)
		return 0;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ? -errno : 0;
	close(fd);
	if (err == 0)
		snprintf(name, sizeof(info.name), "%s", info.name);
	return err;
}

int
xdpmap_counters(int map_fd, struct xdpmap_counter *out, uint32_t n)
{
	struct xdpmap_counter *percpu;
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int ncpu, err = 0;
	uint32_t i;
	int c;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len) < 0)
		return -errno;
	if (info.value_size != sizeof(*percpu) || info.max_entries < n)
		return -EINVAL;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu < 0)
		return ncpu;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (percpu == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(map_fd, &i, percpu) < 0) {
			err = -errno;
			goto out;
		}
		out[i].packets = 0;
		out[i].bytes = 0;
		for (c = 0; c < ncpu; c++) {
			out[i].packets += percpu[c].packets;
			out[i].bytes += percpu[c].bytes;
		}
	}
out:
	free(percpu);
	return err;
}

/* mkdir -p */
static int
mkdirs(const char *dir)
{
	char path[PATH_MAX];
	size_t len;
	char *p;

	len = strlen(dir);
	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether path (or, if it does not exist, its nearest parent) is bpffs. */
static int
on_bpffs(const char *path)
{
	char buf[PATH_MAX];
	struct statfs st;
	char *slash;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return 0;
	for (;;) {
		if (statfs(buf, &st) == 0)
			return st.f_type == BPF_FS_MAGIC;
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			return 0;
		*slash = '\0';
	}
}

int
xdpmap_prepare_pin_dir(const char *dir)
{
	size_t n = strlen(XDPMAP_BPFFS);

	if (!on_bpffs(dir)) {
		if (strncmp(dir, XDPMAP_BPFFS, n) != 0 ||
		    (dir[n] != '/' && dir[n] != '\0'))
			return -ENOTSUP;
		if (mount("bpf", XDPMAP_BPFFS, "bpf", 0, "mode=0700") < 0)
			return -errno;
	}
	return mkdirs(dir);
}

int
xdpmap_pin(int map_fd, const char *dir, const char *name)
{
	char path[PATH_MAX];
	int err;

	err = mkdirs(dir);
	if (err < 0)
		return err;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (bpf_obj_pin(map_fd, path) < 0)
		return -errno;
	return 0;
}
