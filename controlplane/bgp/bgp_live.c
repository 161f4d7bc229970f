/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The liveness TAP interface (see bgp_live.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "bgp_live.h"

int
bgp_live_open(const char *name)
{
	struct ifreq ifr;
	int fd, s, rc;

	if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto err;
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		goto err;
	if (ifr.ifr_flags & IFF_PERSIST) {
		errno = EEXIST;
		goto err;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		goto err;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (rc < 0) {
		int e = errno;

		close(s);
		errno = e;
		goto err;
	}
	close(s);
	return fd;
err:
	rc = -errno;
	close(fd);
	return rc;
}
