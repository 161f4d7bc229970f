/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of lbctl's output, shared by lbctl_fmt.c (collecting, the
 * service model, dispatch), lbctl_fmt_ipvs.c (service and backend tables,
 * ipvsadm layouts) and lbctl_fmt_view.c (the other tables, JSON).
 */
#ifndef EDGELB_LBCTL_FMT_PRIV_H
#define EDGELB_LBCTL_FMT_PRIV_H

#include "lbctl_fmt.h"

/* One reply part: a private copy and its attribute table. */
struct fmt_part {
	struct nlmsghdr *nlh;
	struct nlattr *tb[LB_ATTR_MAX + 1];
};

struct fmt_be {
	struct nlattr *tb[LB_ATTR_MAX + 1]; /* record or BACKEND_GET part */
	struct lb_addr addr;
	uint16_t port;
};

struct fmt_svc {
	struct nlattr **tb; /* the SERVICE_GET part (or a BACKEND_GET one) */
	bool placeholder;   /* known only from BACKEND_GET parts */
	uint8_t proto;
	struct lb_addr vip;
	uint16_t vport;
	struct fmt_be *bes;
	size_t nbes, cap_bes;
};

/* Counters of a service or backend, and rates (per second). */
struct fmt_vals {
	uint64_t conns, inpkts, outpkts, inbytes, outbytes;
	uint64_t active, inactive;
	bool has_rates;
	uint64_t cps, inpps, outpps, inbps, outbps;
};

struct lbctl_fmt {
	enum lbctl_view view;
	struct lbctl_opts opts;
	struct lbctl_filter filter;
	struct fmt_part *parts;
	size_t nparts, cap;
	struct fmt_svc *svcs; /* built by fmt_model(), sorted */
	size_t nsvcs, cap_svcs;
	bool built; /* svcs is up to date with parts */
	const struct lbctl_fmt *base;
	double secs;
};

/* Attribute helpers: a missing attribute reads as 0 / dflt / "-". */
uint64_t fmt_u(struct nlattr *const *tb, int attr);
const char *fmt_str(struct nlattr *const *tb, int attr, const char *dflt);
const char *fmt_addr(struct nlattr *const *tb, int attr, char *buf, size_t len);
const char *fmt_addrport(struct nlattr *const *tb, int aattr, int pattr,
			 char *buf, size_t len);
/* The counter with the first of names present; false if none. */
bool fmt_counter(struct nlattr *const *tb, const char *const *names,
		 uint64_t *v);
/* "toa,proxy-v2" or "-" */
const char *fmt_flags(uint32_t flags, char *buf, size_t len);

/* Build the sorted service model from the parts; 0 or -ENOMEM. */
int fmt_model(struct lbctl_fmt *f);
/* A backend's own mode, else its service's. */
uint8_t fmt_be_mode(const struct fmt_svc *s, const struct fmt_be *b);
void fmt_svc_vals(const struct lbctl_fmt *f, const struct fmt_svc *s,
		  struct fmt_vals *v);
void fmt_be_vals(const struct lbctl_fmt *f, const struct fmt_svc *s,
		 const struct fmt_be *b, struct fmt_vals *v);

/* Printers; 0 or -ENOMEM. */
int fmt_ipvs_list(struct lbctl_fmt *f, FILE *out);
int fmt_ipvs_save(struct lbctl_fmt *f, FILE *out);
int fmt_svc_table(struct lbctl_fmt *f, FILE *out);
int fmt_be_table(struct lbctl_fmt *f, FILE *out);
int fmt_table(struct lbctl_fmt *f, FILE *out);
int fmt_json(struct lbctl_fmt *f, FILE *out);

/* The reply of an api command, JSON with -j (lbctl_api.c). 0 or -EBADMSG. */
int lbctl_api_print(struct lbctl_fmt *f, FILE *out);
/* The reply of a push command, JSON with -j (lbctl_push.c). */
int lbctl_push_print(struct lbctl_fmt *f, FILE *out);
/* The reply of a node command, JSON with -j (lbctl_node.c). */
int lbctl_node_print(struct lbctl_fmt *f, FILE *out);

#endif
