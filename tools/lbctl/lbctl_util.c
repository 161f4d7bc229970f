/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of both lbctl grammars (lbctl_args.c, lbctl_ipvs.c): usage
 * errors, queuing requests, and parsing argument values with errors that
 * name the value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lbctl_args.h"

int
lbctl_usage_err(struct lbctl_pctx *p, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (p->errlen == 0)
		return -EINVAL;
	if (p->cmd->what != NULL)
		n = snprintf(p->err, p->errlen, "%s: ", p->cmd->what);
	if (n < 0 || (size_t)n >= p->errlen)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

struct nl_msg *
lbctl_req_add(struct lbctl_pctx *p, uint16_t type)
{
	struct lbctl_cmd *c = p->cmd;
	uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
	struct nl_msg *m;

	if (c->nreqs >= LBCTL_MAX_REQS)
		return NULL;
	if (lbmsg_type_is_dump(type))
		flags |= NLM_F_DUMP;
	m = lbmsg_new(type, flags);
	if (m == NULL)
		return NULL;
	c->reqs[c->nreqs++] = m;
	return m;
}

int
lbctl_parse_svc_addr(struct lbctl_pctx *p, const char *s,
		     struct lbctl_filter *k)
{
	int rc = lb_addr_port_parse(s, &k->vip, &k->vport, true);

	if (rc == -ERANGE)
		return lbctl_usage_err(p, "port out of range in '%s'", s);
	if (rc < 0)
		return lbctl_usage_err(p, "bad address '%s'", s);
	k->set = true;
	return 0;
}

int
lbctl_parse_u32_arg(struct lbctl_pctx *p, const char *what, const char *s,
		    uint32_t min, uint32_t max, uint32_t *out)
{
	int rc;

	if (s == NULL)
		return lbctl_usage_err(p, "%s needs a value", what);
	rc = lb_parse_u32(s, min, max, out);
	if (rc == -ERANGE)
		return lbctl_usage_err(p, "%s out of range (%u-%u): '%s'", what,
				       min, max, s);
	if (rc < 0)
		return lbctl_usage_err(p, "bad %s '%s'", what, s);
	return 0;
}

int
lbctl_parse_mode_arg(struct lbctl_pctx *p, const char *s, uint8_t *mode)
{
	int m;

	if (s == NULL)
		return lbctl_usage_err(p, "mode needs a value");
	m = lb_mode_parse(s);
	if (m < 0)
		return lbctl_usage_err(p,
				       "unknown mode '%s' (dr, nat, tunnel, "
				       "fnat)",
				       s);
	*mode = (uint8_t)m;
	return 0;
}

int
lbctl_put_key(struct lbctl_pctx *p, struct nl_msg *m,
	      const struct lbctl_filter *k)
{
	if (lbmsg_put_svc_key(m, k->proto, &k->vip, k->vport) < 0)
		return lbctl_usage_err(p, "request too large");
	return 0;
}
