/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text forms of addresses, prefixes, MACs, protocols, modes, numbers and
 * durations. Every parser rejects trailing garbage and out-of-range values.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "edgelb/types.h"

int
lb_addr_parse(const char *s, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a->v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int
lb_addr_parse_n(const char *s, size_t n, struct lb_addr *a)
{
	char host[LB_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	return lb_addr_parse(host, a);
}

int
lb_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int
lb_parse_duration_ms(const char *s, uint32_t *ms)
{
	unsigned long long whole = 0, frac = 0, fdiv = 1, mult;
	const char *q = s;

	if (!isdigit((unsigned char)*q))
		return -EINVAL;
	for (; isdigit((unsigned char)*q); q++) {
		whole = whole * 10 + (unsigned long long)(*q - '0');
		if (whole > 100000000ull)
			return -ERANGE;
	}
	if (*q == '.') {
		q++;
		if (!isdigit((unsigned char)*q))
			return -EINVAL;
		for (; isdigit((unsigned char)*q); q++)
			if (fdiv < 1000000) {
				frac = frac * 10 +
				       (unsigned long long)(*q - '0');
				fdiv *= 10;
			}
	}
	if (*q == '\0' || strcmp(q, "s") == 0)
		mult = 1000;
	else if (strcmp(q, "ms") == 0)
		mult = 1;
	else if (strcmp(q, "m") == 0)
		mult = 60000;
	else if (strcmp(q, "h") == 0)
		mult = 3600000;
	else
		return -EINVAL;
	whole = whole * mult + frac * mult / fdiv;
	if (whole > UINT32_MAX)
		return -ERANGE;
	*ms = (uint32_t)whole;
	return 0;
}

int
lb_addr_port_parse(const char *s, struct lb_addr *a, uint16_t *port,
		   bool allow_no_port)
{
	const char *p, *portstr = NULL;
	size_t n;
	uint32_t v;
	int rc;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (p == NULL)
			return -EINVAL;
		n = (size_t)(p - s - 1);
		if (p[1] == ':')
			portstr = p + 2;
		else if (p[1] != '\0')
			return -EINVAL;
		s++;
	} else {
		p = strrchr(s, ':');
		if (p != NULL && strchr(s, ':') != p)
			p = NULL; /* a bare IPv6 address, no port */
		n = p != NULL ? (size_t)(p - s) : strlen(s);
		if (p != NULL)
			portstr = p + 1;
	}
	rc = lb_addr_parse_n(s, n, a);
	if (rc < 0)
		return rc;
	if (portstr == NULL) {
		if (!allow_no_port)
			return -EINVAL;
		*port = 0;
		return 0;
	}
	rc = lb_parse_u32(portstr, 0, 65535, &v);
	if (rc < 0)
		return rc;
	*port = (uint16_t)v;
	return 0;
}

int
lb_prefix_parse(const char *s, struct lb_addr *a, uint8_t *plen)
{
	const char *slash;
	uint32_t v;
	size_t n;
	int rc;

	if (s == NULL)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	rc = lb_addr_parse_n(s, n, a);
	if (rc < 0)
		return rc;
	if (slash == NULL) {
		*plen = a->family == AF_INET ? 32 : 128;
		return 0;
	}
	rc = lb_parse_u32(slash + 1, 0, a->family == AF_INET ? 32 : 128, &v);
	if (rc < 0)
		return rc;
	*plen = (uint8_t)v;
	return 0;
}

size_t
lb_addr_len(const struct lb_addr *a)
{
	return a->family == AF_INET ? 4 : a->family == AF_INET6 ? 16 : 0;
}

bool
lb_addr_equal(const struct lb_addr *a, const struct lb_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, lb_addr_len(a)) == 0;
}

int
lb_addr_from_bytes(struct lb_addr *a, const void *p, size_t len)
{
	memset(a, 0, sizeof(*a));
	if (len == 4)
		a->family = AF_INET;
	else if (len == 16)
		a->family = AF_INET6;
	else
		return -EINVAL;
	memcpy(a->bytes, p, len);
	return 0;
}

const char *
lb_addr_format(const struct lb_addr *a, char *buf, size_t len)
{
	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

const char *
lb_addr_port_format(const struct lb_addr *a, uint16_t port, char *buf,
		    size_t len)
{
	char host[LB_ADDRSTRLEN];

	lb_addr_format(a, host, sizeof(host));
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
	return buf;
}

int
lb_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (s == NULL || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

const char *
lb_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

int
lb_proto_parse(const char *s)
{
	if (s == NULL)
		return -EINVAL;
	if (strcasecmp(s, "tcp") == 0)
		return IPPROTO_TCP;
	if (strcasecmp(s, "udp") == 0)
		return IPPROTO_UDP;
	return -EINVAL;
}

const char *
lb_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		return "?";
	}
}

static const struct {
	const char *name;
	enum lb_mode mode;
} mode_names[] = {
	{ "dr", LB_MODE_DR },	      { "route", LB_MODE_DR },
	{ "gatewaying", LB_MODE_DR }, { "nat", LB_MODE_NAT },
	{ "masq", LB_MODE_NAT },      { "masquerading", LB_MODE_NAT },
	{ "tunnel", LB_MODE_TUNNEL }, { "tun", LB_MODE_TUNNEL },
	{ "ipip", LB_MODE_TUNNEL },   { "fnat", LB_MODE_FNAT },
	{ "fullnat", LB_MODE_FNAT },  { "full-nat", LB_MODE_FNAT },
};

int
lb_mode_parse(const char *s)
{
	if (s == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcasecmp(s, mode_names[i].name) == 0)
			return (int)mode_names[i].mode;
	return -EINVAL;
}

const char *
lb_mode_name(enum lb_mode m)
{
	switch (m) {
	case LB_MODE_DR:
		return "dr";
	case LB_MODE_NAT:
		return "nat";
	case LB_MODE_TUNNEL:
		return "tunnel";
	case LB_MODE_FNAT:
		return "fnat";
	default:
		return "?";
	}
}

const char *const lb_sched_names[] = {
	"rr", "wrr", "lc", "wlc", "sh", "mh", "lrt",
};
const size_t lb_nsched_names =
	sizeof(lb_sched_names) / sizeof(lb_sched_names[0]);

bool
lb_sched_name_valid(const char *s)
{
	for (size_t i = 0; i < lb_nsched_names; i++)
		if (strcmp(s, lb_sched_names[i]) == 0)
			return true;
	return false;
}
