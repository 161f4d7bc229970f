/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl's service-shaped output: the "service show" and "backend show"
 * tables, and ipvsadm's layouts, column for column as ipvsadm 1.2x prints
 * them, so that scripts parsing "ipvsadm -L -n" keep working:
 *
 *   IP Virtual Server version 1.2.1 (size=4096)
 *   Prot LocalAddress:Port Scheduler Flags
 *     -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
 *   TCP  10.0.0.1:80 wlc persistent 300
 *     -> 10.1.0.1:80                  Route   1      0          0
 *
 * The service column is "PROT  ADDR:PORT" cut at 33 characters and the
 * real-server column cut at 28 (IPv4 only, as ipvsadm does); the backend
 * row's columns are left-aligned and padded, trailing blanks included.
 * --stats and --rate print right-aligned counters of width 9, scaled to
 * K/M/G/T past 8 digits unless --exact.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "lbctl_fmt_priv.h"

/*
 * ipvsadm prints the kernel's IPVS version and ip_vs_conn_tab_size, the
 * number of buckets of IPVS's connection hash table (2^conn_tab_bits,
 * 4096 by default), which bounds nothing: IPVS chains connections. edgelb
 * has no such table to report (its per-worker tables are sized by
 * [dataplane] max_conns, a hard limit of another kind), so the line is
 * the one a stock kernel prints, for scripts that parse it.
 */
#define IPVS_HEADER "IP Virtual Server version 1.2.1 (size=4096)\n"

static const char *
fwd_name(uint8_t mode)
{
	switch (mode) {
	case LB_MODE_NAT:
		return "Masq";
	case LB_MODE_TUNNEL:
		return "Tunnel";
	case LB_MODE_FNAT:
		return "FullNat";
	default:
		return "Route"; /* DR, ipvsadm's default */
	}
}

static const char *
fwd_switch(uint8_t mode)
{
	switch (mode) {
	case LB_MODE_NAT:
		return "-m";
	case LB_MODE_TUNNEL:
		return "-i";
	case LB_MODE_FNAT:
		return "--fnat";
	default:
		return "-g";
	}
}

/* A counter in 9 columns, scaled past 8 digits (ipvsadm's largenum). */
static void
largenum(FILE *out, uint64_t v, bool exact)
{
	static const struct {
		uint64_t below, div;
		char unit;
	} scale[] = {
		{ 1000000000ull, 1000ull, 'K' },
		{ 100000000000ull, 1000000ull, 'M' },
		{ 100000000000000ull, 1000000000ull, 'G' },
		{ UINT64_MAX, 1000000000000ull, 'T' },
	};
	char buf[24];
	int len;

	if (exact) {
		len = snprintf(buf, sizeof(buf), "%" PRIu64, v);
		fprintf(out, "%*s", len <= 8 ? 9 : len + 1, buf);
		return;
	}
	if (v < 100000000ull) {
		fprintf(out, "%9" PRIu64, v);
		return;
	}
	for (size_t i = 0; i < sizeof(scale) / sizeof(scale[0]); i++)
		if (v < scale[i].below || i == 3) {
			fprintf(out, "%8" PRIu64 "%c", v / scale[i].div,
				scale[i].unit);
			return;
		}
}

/* "TCP  10.0.0.1:80" (cut to 33 for IPv4) */
static void
fmt_svc_name(const struct fmt_svc *s, char *buf, size_t len)
{
	char ap[LB_ADDRPORTSTRLEN];

	lb_addr_port_format(&s->vip, s->vport, ap, sizeof(ap));
	snprintf(buf, len, "%s  %s", s->proto == IPPROTO_UDP ? "UDP" : "TCP",
		 ap);
	if (s->vip.family == AF_INET && len > 33)
		buf[33] = '\0';
}

static void
be_name(const struct fmt_svc *s, const struct fmt_be *b, char *buf, size_t len)
{
	lb_addr_port_format(&b->addr, b->port, buf, len);
	if (s->vip.family == AF_INET && len > 28)
		buf[28] = '\0';
}

static void
ipvs_title(const struct lbctl_fmt *f, FILE *out)
{
	if (f->opts.stats || f->opts.rate)
		fprintf(out,
			"%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port",
			f->opts.stats ? "Conns" : "CPS",
			f->opts.stats ? "InPkts" : "InPPS",
			f->opts.stats ? "OutPkts" : "OutPPS",
			f->opts.stats ? "InBytes" : "InBPS",
			f->opts.stats ? "OutBytes" : "OutBPS");
	else if (f->opts.thresholds) /* ipvsadm 1.31's FMT_THRESHOLDS */
		fprintf(out,
			"%-33s %-10s %-10s %-10s %-10s\n"
			"  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold",
			"ActiveConn", "InActConn");
	else
		fputs("Prot LocalAddress:Port Scheduler Flags\n"
		      "  -> RemoteAddress:Port           Forward Weight "
		      "ActiveConn InActConn\n",
		      out);
}

/* The --stats columns of an ipvsadm service or backend line. */
static void
ipvs_stats_cols(FILE *out, const struct fmt_vals *v, bool x)
{
	largenum(out, v->conns, x);
	largenum(out, v->inpkts, x);
	largenum(out, v->outpkts, x);
	largenum(out, v->inbytes, x);
	largenum(out, v->outbytes, x);
}

static void
ipvs_service(const struct lbctl_fmt *f, const struct fmt_svc *s, FILE *out)
{
	bool x = f->opts.exact;
	char name[80], dname[LB_ADDRPORTSTRLEN];
	struct fmt_vals v;

	fmt_svc_name(s, name, sizeof(name));
	fmt_svc_vals(f, s, &v);
	if (f->opts.stats) {
		fprintf(out, "%-33s", name);
		ipvs_stats_cols(out, &v, x);
	} else if (f->opts.rate) {
		fprintf(out, "%-33s", name);
		largenum(out, v.cps, x);
		largenum(out, v.inpps, x);
		largenum(out, v.outpps, x);
		largenum(out, v.inbps, x);
		largenum(out, v.outbps, x);
	} else {
		fprintf(out, "%s %s", name, fmt_str(s->tb, LB_ATTR_SCHED, "-"));
		if (fmt_u(s->tb, LB_ATTR_PERSIST) != 0)
			fprintf(out, " persistent %" PRIu64,
				fmt_u(s->tb, LB_ATTR_PERSIST));
	}
	fputc('\n', out);

	for (size_t i = 0; i < s->nbes; i++) {
		const struct fmt_be *b = &s->bes[i];

		be_name(s, b, dname, sizeof(dname));
		fmt_be_vals(f, s, b, &v);
		if (f->opts.stats) {
			fprintf(out, "  -> %-28s", dname);
			ipvs_stats_cols(out, &v, x);
			fputc('\n', out);
		} else if (f->opts.rate) {
			fprintf(out,
				"  -> %-28s %8" PRIu64 " %8" PRIu64
				" %8" PRIu64,
				dname, v.cps, v.inpps, v.outpps);
			largenum(out, v.inbps, x);
			largenum(out, v.outbps, x);
			fputc('\n', out);
		} else if (f->opts.thresholds) {
			fprintf(out,
				"  -> %-28s %-10" PRIu64 " %-10" PRIu64
				" %-10" PRIu64 " %-10" PRIu64 "\n",
				dname, fmt_u(b->tb, LB_ATTR_U_THRESH),
				fmt_u(b->tb, LB_ATTR_L_THRESH), v.active,
				v.inactive);
		} else {
			fprintf(out,
				"  -> %-28s %-7s %-6" PRIu64 " %-10" PRIu64
				" %-10" PRIu64 "\n",
				dname, fwd_name(fmt_be_mode(s, b)),
				fmt_u(b->tb, LB_ATTR_WEIGHT), v.active,
				v.inactive);
		}
	}
}

int
fmt_ipvs_list(struct lbctl_fmt *f, FILE *out)
{
	if (!f->filter.set) /* ipvsadm -L -t VIP prints no version line */
		fputs(IPVS_HEADER, out);
	ipvs_title(f, out);
	for (size_t i = 0; i < f->nsvcs; i++)
		ipvs_service(f, &f->svcs[i], out);
	return 0;
}

/* ipvsadm -S: the rules that rebuild the table. */
int
fmt_ipvs_save(struct lbctl_fmt *f, FILE *out)
{
	char ap[LB_ADDRPORTSTRLEN], dname[LB_ADDRPORTSTRLEN];

	for (size_t i = 0; i < f->nsvcs; i++) {
		const struct fmt_svc *s = &f->svcs[i];
		const char *sw = s->proto == IPPROTO_UDP ? "-u" : "-t";

		lb_addr_port_format(&s->vip, s->vport, ap, sizeof(ap));
		fprintf(out, "-A %s %s -s %s", sw, ap,
			fmt_str(s->tb, LB_ATTR_SCHED, LB_SCHED_DEFAULT));
		if (fmt_u(s->tb, LB_ATTR_PERSIST) != 0)
			fprintf(out, " -p %" PRIu64,
				fmt_u(s->tb, LB_ATTR_PERSIST));
		if (fmt_u(s->tb, LB_ATTR_MODE) == LB_MODE_FNAT)
			fputs(" --fnat", out);
		fputc('\n', out);
		for (size_t j = 0; j < s->nbes; j++) {
			const struct fmt_be *b = &s->bes[j];

			lb_addr_port_format(&b->addr, b->port, dname,
					    sizeof(dname));
			fprintf(out, "-a %s %s -r %s %s -w %" PRIu64, sw, ap,
				dname, fwd_switch(fmt_be_mode(s, b)),
				fmt_u(b->tb, LB_ATTR_WEIGHT));
			if (fmt_u(b->tb, LB_ATTR_U_THRESH) != 0)
				fprintf(out, " -x %" PRIu64,
					fmt_u(b->tb, LB_ATTR_U_THRESH));
			if (fmt_u(b->tb, LB_ATTR_L_THRESH) != 0)
				fprintf(out, " -y %" PRIu64,
					fmt_u(b->tb, LB_ATTR_L_THRESH));
			fputc('\n', out);
		}
	}
	return 0;
}

/* Counter columns of -s/--stats in the lbctl tables. */
static void
stats_head(FILE *out)
{
	fprintf(out, " %10s %10s %10s %12s %12s", "Conns", "InPkts", "OutPkts",
		"InBytes", "OutBytes");
}

static void
stats_cols(FILE *out, const struct fmt_vals *v)
{
	fprintf(out,
		" %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %12" PRIu64
		" %12" PRIu64,
		v->conns, v->inpkts, v->outpkts, v->inbytes, v->outbytes);
}

/* lbctl service show */
int
fmt_svc_table(struct lbctl_fmt *f, FILE *out)
{
	char ap[LB_ADDRPORTSTRLEN], flags[40];
	struct fmt_vals v;

	fprintf(out, "%-5s %-26s %-7s %-6s %-7s %-16s %-8s", "Proto",
		"VIP:Port", "Mode", "Sched", "Persist", "Flags", "Backends");
	if (f->opts.stats)
		stats_head(out);
	fputs(" Name\n", out);
	for (size_t i = 0; i < f->nsvcs; i++) {
		const struct fmt_svc *s = &f->svcs[i];

		lb_addr_port_format(&s->vip, s->vport, ap, sizeof(ap));
		fprintf(out, "%-5s %-26s %-7s %-6s %-7" PRIu64 " %-16s %-8zu",
			lb_proto_name(s->proto), ap,
			s->tb[LB_ATTR_MODE]
				? lb_mode_name(fmt_u(s->tb, LB_ATTR_MODE))
				: "-",
			fmt_str(s->tb, LB_ATTR_SCHED, "-"),
			fmt_u(s->tb, LB_ATTR_PERSIST),
			fmt_flags((uint32_t)fmt_u(s->tb, LB_ATTR_SVC_FLAGS),
				  flags, sizeof(flags)),
			s->nbes);
		if (f->opts.stats) {
			fmt_svc_vals(f, s, &v);
			stats_cols(out, &v);
		}
		fprintf(out, " %s\n", fmt_str(s->tb, LB_ATTR_NAME, "-"));
	}
	return 0;
}

/* lbctl backend show */
int
fmt_be_table(struct lbctl_fmt *f, FILE *out)
{
	char key[LB_ADDRPORTSTRLEN + 8], ap[LB_ADDRPORTSTRLEN],
		bp[LB_ADDRPORTSTRLEN];
	int last = f->opts.stats ? 10 : 0; /* no trailing blanks */
	struct fmt_vals v;

	fprintf(out, "%-30s %-26s %-7s %-6s %-10s %-*s", "Service", "Backend",
		"Mode", "Weight", "ActiveConn", last, "InActConn");
	if (f->opts.stats)
		stats_head(out);
	fputc('\n', out);
	for (size_t i = 0; i < f->nsvcs; i++) {
		const struct fmt_svc *s = &f->svcs[i];

		lb_addr_port_format(&s->vip, s->vport, ap, sizeof(ap));
		snprintf(key, sizeof(key), "%s %s", lb_proto_name(s->proto),
			 ap);
		for (size_t j = 0; j < s->nbes; j++) {
			const struct fmt_be *b = &s->bes[j];
			uint8_t mode = fmt_be_mode(s, b);

			lb_addr_port_format(&b->addr, b->port, bp, sizeof(bp));
			fmt_be_vals(f, s, b, &v);
			fprintf(out,
				"%-30s %-26s %-7s %-6" PRIu64 " %-10" PRIu64
				" %-*" PRIu64,
				key, bp, mode ? lb_mode_name(mode) : "-",
				fmt_u(b->tb, LB_ATTR_WEIGHT), v.active, last,
				v.inactive);
			if (f->opts.stats)
				stats_cols(out, &v);
			fputc('\n', out);
		}
	}
	return 0;
}
