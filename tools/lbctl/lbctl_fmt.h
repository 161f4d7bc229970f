/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl output: collects the reply parts of a command (a dump's parts, as
 * lbmsg_client_request() hands them over) and prints them as a table, as
 * JSON, or in ipvsadm's "-L -n" / "--stats" / "--rate" / "-S" layouts.
 *
 * Printing is a pure function of the collected parts and the command's
 * view, options and filter: it reads no clock and opens nothing, so golden
 * files can pin every layout.
 *
 * Counters are read by name from LB_ATTR_COUNTERS; a service or backend
 * uses conns, pkts_in, pkts_out, bytes_in, bytes_out, active, inactive
 * (ipvsadm's names conns, inpkts, outpkts, inbytes, outbytes, activeconns,
 * inactconns are accepted too) and, for --rate, cps, pps_in, pps_out,
 * bps_in, bps_out when the server computes rates itself.
 */
#ifndef EDGELB_LBCTL_FMT_H
#define EDGELB_LBCTL_FMT_H

#include <stdbool.h>
#include <stdio.h>

#include "lbctl_args.h"

struct lbctl_fmt;

/* A collector for cmd's view (cmd may be freed afterwards). NULL+errno. */
struct lbctl_fmt *lbctl_fmt_new(const struct lbctl_cmd *cmd);
void lbctl_fmt_free(struct lbctl_fmt *f);

/*
 * An lbmsg_part_fn: keeps a copy of one reply part (arg is the
 * struct lbctl_fmt). Returns 0 or -ENOMEM.
 */
int lbctl_fmt_part(void *arg, const struct nlmsghdr *nlh, struct nlattr **tb);

/* Forget the collected parts (watch mode, before the next round). */
void lbctl_fmt_reset(struct lbctl_fmt *f);

/*
 * For --rate: when the replies carry no rate counters, rates are the
 * difference to base, taken secs seconds earlier. base must outlive f's
 * printing.
 */
void lbctl_fmt_set_base(struct lbctl_fmt *f, const struct lbctl_fmt *base,
			double secs);

/* True when some service or backend carries server-computed rates. */
bool lbctl_fmt_has_rates(const struct lbctl_fmt *f);

/*
 * Print the collected parts. Returns 0, -ENOENT when the command's filter
 * (ipvsadm -L -t VIP:PORT) matched no service, or -ENOMEM.
 */
int lbctl_fmt_print(struct lbctl_fmt *f, FILE *out);

#endif
