/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipip_probe: traffic for the tun_decap lab (tests/bpf/test_loader.sh).
 *
 *   ipip_probe send IFACE DSTMAC OSRC ODST ISRC IDST PORT PAYLOAD
 *       one Ethernet frame on IFACE (AF_PACKET): IPv4 OSRC->ODST, protocol
 *       4, around IPv4 ISRC->IDST UDP 40000->PORT carrying PAYLOAD.
 *   ipip_probe ping IFACE DSTMAC OSRC ODST ISRC IDST
 *       the same around an ICMP echo request; waits up to 3 s for the
 *       (unencapsulated) echo reply from IDST. Exit 0 if it came.
 *   ipip_probe udp ADDR PORT PAYLOAD COUNT
 *       COUNT plain UDP datagrams to ADDR:PORT through the kernel.
 *   ipip_probe recv ADDR PORT PAYLOAD SECONDS
 *       waits for one UDP datagram on ADDR:PORT. Exit 0 if it carries
 *       PAYLOAD, 1 on timeout or another payload.
 *
 * Checksums are computed in full, so no offload is involved.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define ECHO_ID 0x4c42

static uint16_t
csum(const void *d, size_t n, uint32_t s)
{
	const uint8_t *b = d;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

static size_t
put_ip(uint8_t *p, const char *src, const char *dst, uint8_t proto,
       size_t payload)
{
	struct iphdr *ip = (struct iphdr *)p;

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons(sizeof(*ip) + payload);
	ip->id = htons(getpid() & 0xffff);
	if (inet_pton(AF_INET, src, &ip->saddr) != 1 ||
	    inet_pton(AF_INET, dst, &ip->daddr) != 1) {
		fprintf(stderr, "ipip_probe: bad address %s or %s\n", src, dst);
		exit(2);
	}
	ip->check = csum(ip, sizeof(*ip), 0);
	return sizeof(*ip);
}

/* Frame: Ethernet, outer IPv4 (4), inner IPv4, then l4 (len bytes). */
static int
send_frame(char **argv, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t f[1500];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr;
	size_t off = ETH_HLEN;
	unsigned int mac[6];
	int fd, i;

	if (len > sizeof(f) - ETH_HLEN - 40)
		return 2;
	if (sscanf(argv[1], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2],
		   &mac[3], &mac[4], &mac[5]) != 6)
		return 2;
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("ipip_probe: socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[0]);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("ipip_probe: SIOCGIFHWADDR");
		return 1;
	}
	for (i = 0; i < 6; i++)
		f[i] = mac[i];
	memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	off += put_ip(f + off, argv[2], argv[3], IPPROTO_IPIP, 20 + len);
	off += put_ip(f + off, argv[4], argv[5], proto, len);
	memcpy(f + off, l4, len);
	off += len;
	sll.sll_ifindex = if_nametoindex(argv[0]);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, f, 6);
	if (sendto(fd, f, off, 0, (struct sockaddr *)&sll, sizeof(sll)) !=
	    (ssize_t)off) {
		perror("ipip_probe: sendto");
		return 1;
	}
	close(fd);
	return 0;
}

static int
cmd_send(char **argv)
{
	uint8_t l4[1024];
	struct udphdr *udp = (struct udphdr *)l4;
	size_t plen = strlen(argv[7]);
	uint32_t pseudo = 0;
	struct in_addr s, d;

	if (plen > sizeof(l4) - sizeof(*udp))
		return 2;
	udp->source = htons(40000);
	udp->dest = htons(atoi(argv[6]));
	udp->len = htons(sizeof(*udp) + plen);
	udp->check = 0;
	memcpy(l4 + sizeof(*udp), argv[7], plen);
	if (inet_pton(AF_INET, argv[4], &s) != 1 ||
	    inet_pton(AF_INET, argv[5], &d) != 1)
		return 2;
	pseudo += (ntohl(s.s_addr) >> 16) + (ntohl(s.s_addr) & 0xffff);
	pseudo += (ntohl(d.s_addr) >> 16) + (ntohl(d.s_addr) & 0xffff);
	pseudo += IPPROTO_UDP + sizeof(*udp) + plen;
	udp->check = csum(l4, sizeof(*udp) + plen, pseudo);
	if (udp->check == 0)
		udp->check = 0xffff;
	return send_frame(argv, IPPROTO_UDP, l4, sizeof(*udp) + plen);
}

static int
cmd_ping(char **argv)
{
	uint8_t l4[64], buf[1500];
	struct icmphdr *icmp = (struct icmphdr *)l4;
	struct pollfd pfd;
	struct in_addr from;
	time_t deadline = time(NULL) + 3;
	int fd, rc;

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0 || inet_pton(AF_INET, argv[5], &from) != 1) {
		perror("ipip_probe: raw socket");
		return 1;
	}
	memset(l4, 0, sizeof(l4));
	icmp->type = ICMP_ECHO;
	icmp->un.echo.id = htons(ECHO_ID);
	icmp->un.echo.sequence = htons(1);
	memcpy(l4 + sizeof(*icmp), "edgelb-ipip-ping", 16);
	icmp->checksum = csum(l4, sizeof(l4), 0);
	rc = send_frame(argv, IPPROTO_ICMP, l4, sizeof(l4));
	if (rc != 0)
		return rc;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (time(NULL) < deadline) {
		struct iphdr *ip = (struct iphdr *)buf;
		struct icmphdr *r;
		ssize_t n;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < (ssize_t)sizeof(*ip) || n < ip->ihl * 4 + 8)
			continue;
		r = (struct icmphdr *)(buf + ip->ihl * 4);
		if (ip->saddr == from.s_addr && r->type == ICMP_ECHOREPLY &&
		    r->un.echo.id == htons(ECHO_ID)) {
			printf("echo reply from %s\n", argv[5]);
			return 0;
		}
	}
	fprintf(stderr, "ipip_probe: no echo reply from %s\n", argv[5]);
	return 1;
}

static int
cmd_recv(char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd pfd;
	char buf[1024];
	ssize_t n;
	int fd;

	sin.sin_port = htons(atoi(argv[1]));
	if (inet_pton(AF_INET, argv[0], &sin.sin_addr) != 1)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("ipip_probe: bind");
		return 1;
	}
	/* Ready: the caller may send now. */
	printf("listening\n");
	fflush(stdout);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, atoi(argv[3]) * 1000) <= 0) {
		fprintf(stderr, "ipip_probe: nothing received on %s:%s\n",
			argv[0], argv[1]);
		return 1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return 1;
	buf[n] = '\0';
	if (strcmp(buf, argv[2]) != 0) {
		fprintf(stderr, "ipip_probe: received \"%s\"\n", buf);
		return 1;
	}
	printf("received %s\n", buf);
	return 0;
}

static int
cmd_udp(char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, i, n = atoi(argv[3]);

	sin.sin_port = htons(atoi(argv[1]));
	if (inet_pton(AF_INET, argv[0], &sin.sin_addr) != 1 || n < 1 ||
	    n > 1000)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	for (i = 0; i < n; i++) {
		if (sendto(fd, argv[2], strlen(argv[2]), 0,
			   (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			perror("ipip_probe: sendto");
			return 1;
		}
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 10 && strcmp(argv[1], "send") == 0)
		return cmd_send(argv + 2);
	if (argc == 8 && strcmp(argv[1], "ping") == 0)
		return cmd_ping(argv + 2);
	if (argc == 6 && strcmp(argv[1], "udp") == 0)
		return cmd_udp(argv + 2);
	if (argc == 6 && strcmp(argv[1], "recv") == 0)
		return cmd_recv(argv + 2);
	fprintf(stderr, "usage: ipip_probe send|ping|udp|recv ...\n");
	return 2;
}
