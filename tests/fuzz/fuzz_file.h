/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For fuzz targets whose parser reads a file by path: the input is put
 * in an anonymous memory file, named by its /proc/self/fd path, so no
 * file is created on disk and every run starts from a fresh file.
 */
#ifndef EDGELB_FUZZ_FILE_H
#define EDGELB_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

/* A memory file holding data[0..size), its path in path; the fd or -1. */
static inline int
fuzz_file(const void *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
