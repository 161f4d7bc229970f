/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Common value types shared by every edgelb program: addresses, protocols,
 * forwarding modes, and their text forms. Parsing and formatting live in
 * common/addr.c (prefix lb_addr_, lb_mode_, lb_proto_).
 */
#ifndef EDGELB_TYPES_H
#define EDGELB_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define LB_ADDRSTRLEN	  46 /* INET6_ADDRSTRLEN */
#define LB_ADDRPORTSTRLEN 56 /* "[v6]:65535" */
#define LB_MACSTRLEN	  18
#define LB_NAME_MAX	  63 /* service, check and route names */
#define LB_IFNAME_MAX	  31 /* dataplane port names */
#define LB_SCHED_NAME_MAX 15

/* An IPv4 or IPv6 address; bytes are in network order. */
struct lb_addr {
	uint8_t family; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t pad[3];
	union {
		uint32_t v4;
		uint8_t v6[16];
		uint8_t bytes[16];
	};
};

/* LVS forwarding modes. Values are part of the wire protocol. */
enum lb_mode {
	LB_MODE_UNSET = 0,
	LB_MODE_DR = 1,
	LB_MODE_NAT = 2,
	LB_MODE_TUNNEL = 3,
	LB_MODE_FNAT = 4,
	LB_MODE_MAX = LB_MODE_FNAT,
};

/*
 * Parse "1.2.3.4" or "2001:db8::1". Returns 0 or -EINVAL.
 */
int lb_addr_parse(const char *s, struct lb_addr *a);
/* The same for the n characters at s (not NUL-terminated). */
int lb_addr_parse_n(const char *s, size_t n, struct lb_addr *a);

/*
 * Parse "1.2.3.4:80", "[2001:db8::1]:80"; with allow_no_port, "1.2.3.4"
 * and "[::1]" too (port set to 0). Returns 0 or -EINVAL (-ERANGE for a
 * port above 65535).
 */
int lb_addr_port_parse(const char *s, struct lb_addr *a, uint16_t *port,
		       bool allow_no_port);

/*
 * Parse "10.0.0.0/24" or "2001:db8::/64" (a bare address means a host
 * prefix). Returns 0, -EINVAL or -ERANGE (prefix too long for the family).
 */
int lb_prefix_parse(const char *s, struct lb_addr *a, uint8_t *plen);

/* Format into buf (at least LB_ADDRSTRLEN); returns buf. */
const char *lb_addr_format(const struct lb_addr *a, char *buf, size_t len);

/* "1.2.3.4:80" or "[::1]:80" (at least LB_ADDRPORTSTRLEN); returns buf. */
const char *lb_addr_port_format(const struct lb_addr *a, uint16_t port,
				char *buf, size_t len);

/* Length in bytes of the address for its family (4, 16, or 0 if unset). */
size_t lb_addr_len(const struct lb_addr *a);

bool lb_addr_equal(const struct lb_addr *a, const struct lb_addr *b);

/* Set from raw bytes of length 4 or 16. Returns 0 or -EINVAL. */
int lb_addr_from_bytes(struct lb_addr *a, const void *p, size_t len);

/* "aa:bb:cc:dd:ee:ff" <-> 6 bytes. parse returns 0 or -EINVAL. */
int lb_mac_parse(const char *s, uint8_t mac[6]);
const char *lb_mac_format(const uint8_t mac[6], char *buf, size_t len);

/* "tcp"/"udp" (any case) -> IPPROTO_*. Returns the protocol or -EINVAL. */
int lb_proto_parse(const char *s);
const char *lb_proto_name(uint8_t proto);

/*
 * "dr"/"route"/"gatewaying", "nat"/"masq", "tunnel"/"tun"/"ipip",
 * "fnat"/"fullnat"/"full-nat". Returns the mode or -EINVAL.
 */
int lb_mode_parse(const char *s);
const char *lb_mode_name(enum lb_mode m);

/*
 * Scheduler names as the INI file, lbctl and lbmsg spell them; the
 * dataplane registers one scheduler under each (test_sched checks it).
 * LB_SCHED_DEFAULT is a service's scheduler when none is named.
 */
#define LB_SCHED_DEFAULT "wlc"
extern const char *const lb_sched_names[];
extern const size_t lb_nsched_names;
bool lb_sched_name_valid(const char *s);

/* Where the sockets are when the configuration names none. */
#define LB_DEFAULT_DP_SOCKET  "/run/edgelb/dp.sock"
#define LB_DEFAULT_CTL_SOCKET "/run/edgelb/ctl.sock"

/* A decimal unsigned in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int lb_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

/*
 * A duration into milliseconds: N or Ns (seconds), Nms, Nm, Nh, and a
 * fraction of up to six digits (0.5s, 1.25m). The number starts with a
 * digit; no sign, no space. Returns 0, -EINVAL or -ERANGE (more than
 * UINT32_MAX ms).
 */
int lb_parse_duration_ms(const char *s, uint32_t *ms);

#endif
