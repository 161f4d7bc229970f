/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 reassembly and fragmentation with librte_ip_frag. See ipfrag.h.
 *
 * librte_ip_frag puts what it does not keep on a death row without
 * saying why. We call it with an empty death row and read the row
 * afterwards: a fragment of another datagram there is one of an
 * expired datagram whose entry was taken back (frag_timeout); our own
 * fragment there alone means no entry was free (frag_table_full, as a
 * datagram that fails gives back every fragment it holds, at least two);
 * several of our own datagram mean the set was bad (frag_bad). Every
 * fragment on the row starts at its Ethernet header (those chained to
 * another one by a reassembly that failed are freed with it, and count
 * as its segments), so its key can be read back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "edgelb/log.h"
#include "ipfrag.h"
#include "svc.h"

struct ipfrag_worker {
	struct rte_ip_frag_tbl *tbl;
	struct rte_ring *handoff; /* datagrams other workers made for us */
	struct rte_ip_frag_death_row dr;
} __rte_cache_aligned;

struct ipfrag {
	uint16_t min_size;  /* payload of a fragment that is not the last */
	uint64_t tbl_bytes; /* one table, measured */
	unsigned int nworkers;
	struct ipfrag_worker w[];
};

/* Count m dropped for why and free it (dp_tx.h includes us). */
static void
drop(struct dp_worker *w, struct rte_mbuf *m, enum dp_drop why)
{
	w->drops[why]++;
	rte_pktmbuf_free(m);
}

/* ---- set-up ----------------------------------------------------------------- */

static uint64_t
heap_used(void)
{
	struct rte_malloc_socket_stats st;
	uint64_t sum = 0;

	for (unsigned int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats((int)s, &st) == 0)
			sum += st.heap_allocsz_bytes;
	return sum;
}

int
ipfrag_init(struct dp_ctx *dp, char *err, size_t errlen)
{
	const struct dpconf *c = &dp->conf;
	uint32_t entries = c->frag_max_entries, assoc = c->frag_bucket_entries;
	uint32_t buckets = c->frag_buckets;
	/* the tables may hold a quarter of the pool at most */
	uint64_t spare = dp->conf.mbufs / 4;
	uint64_t hz = rte_get_tsc_hz();
	uint64_t cycles = (hz + 999) / 1000 * c->frag_timeout_ms;
	struct ipfrag *f;
	uint64_t before;

	dp->frag = NULL;
	if (!c->frag_reassembly)
		return 0;
	if (entries == 0)
		entries = (uint32_t)RTE_MIN(
			1024u, spare / ((uint64_t)dp->nworkers *
					RTE_LIBRTE_IP_FRAG_MAX_FRAG));
	if (entries == 0 ||
	    (uint64_t)entries * dp->nworkers * RTE_LIBRTE_IP_FRAG_MAX_FRAG >
		    spare) {
		snprintf(err, errlen,
			 "[dataplane] frag_max_entries %u x %u worker(s) x %u "
			 "fragments could hold more than a quarter of the %u "
			 "mbufs: lower frag_max_entries or raise mbufs",
			 entries, dp->nworkers, RTE_LIBRTE_IP_FRAG_MAX_FRAG,
			 dp->conf.mbufs);
		return -EINVAL;
	}
	if (buckets == 0)
		buckets = rte_align32pow2((entries * 2 + assoc - 1) / assoc);
	if ((uint64_t)buckets * assoc < entries) {
		snprintf(err, errlen,
			 "[dataplane] frag_buckets %u x frag_bucket_entries %u "
			 "is below frag_max_entries %u",
			 buckets, assoc, entries);
		return -EINVAL;
	}
	f = rte_zmalloc("ipfrag", sizeof(*f) + dp->nworkers * sizeof(f->w[0]),
			RTE_CACHE_LINE_SIZE);
	if (f == NULL)
		goto nomem;
	f->nworkers = dp->nworkers;
	f->min_size = (uint16_t)c->frag_min_size;
	dp->frag = f;
	for (unsigned int i = 0; i < dp->nworkers; i++) {
		before = heap_used();
		f->w[i].tbl = rte_ip_frag_table_create(buckets, assoc, entries,
						       cycles, SOCKET_ID_ANY);
		if (f->w[i].tbl == NULL)
			goto nomem;
		if (i == 0)
			f->tbl_bytes = heap_used() - before;
		if (dp->nworkers > 1) {
			char name[32];

			snprintf(name, sizeof(name), "ipfrag_ho%u", i);
			f->w[i].handoff =
				rte_ring_create(name, IPFRAG_HANDOFF_SIZE,
						SOCKET_ID_ANY, RING_F_SC_DEQ);
			if (f->w[i].handoff == NULL)
				goto nomem;
		}
	}
	LB_INFO("fragments: reassembly table of %u entries (%u buckets of "
		"%u) per worker, %" PRIu64 " bytes each, timeout %u ms",
		entries, buckets, assoc, f->tbl_bytes, c->frag_timeout_ms);
	return 0;
nomem:
	ipfrag_fini(dp);
	snprintf(err, errlen,
		 "fragment reassembly tables: out of memory (give EAL more "
		 "memory with -m, or lower [dataplane] frag_max_entries)");
	return -ENOMEM;
}

void
ipfrag_fini(struct dp_ctx *dp)
{
	struct ipfrag *f = dp->frag;

	if (f == NULL)
		return;
	for (unsigned int i = 0; i < f->nworkers; i++) {
		struct rte_mbuf *m;

		while (f->w[i].handoff != NULL &&
		       rte_ring_dequeue(f->w[i].handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(f->w[i].handoff);
		/* the table frees the fragments it holds */
		rte_ip_frag_table_destroy(f->w[i].tbl);
		rte_ip_frag_free_death_row(&f->w[i].dr, 0);
	}
	rte_free(f);
	dp->frag = NULL;
}

uint64_t
ipfrag_table_bytes(const struct dp_ctx *dp)
{
	return dp->frag != NULL ? dp->frag->tbl_bytes : 0;
}

/* ---- in --------------------------------------------------------------------- */

bool
ipfrag_wanted(struct dp_worker *w, const struct pkt_info *pi)
{
	struct lb_addr dst = { .family = AF_INET, .v4 = pi->daddr };

	return w->dp->frag != NULL && pi->l3 == PKT_L3_IPV4 &&
	       (pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) &&
	       svc_addr_is_ours(w->dp->svc, &dst);
}

/* The checks librte_ip_frag leaves to us; DP_PASS or the reason. */
static enum dp_drop
frag_check(const struct ipfrag *f, const struct pkt_info *pi,
	   const struct rte_ipv4_hdr *ip)
{
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	uint32_t off = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) *
		       RTE_IPV4_HDR_OFFSET_UNITS;
	uint32_t len = (uint32_t)(pi->ip_len - pi->l3_len);
	bool more = (fo & RTE_IPV4_HDR_MF_FLAG) != 0;

	if (len == 0 || (more && len < f->min_size))
		return DP_DROP_FRAG_TINY;
	if (off + len + pi->l3_len > UINT16_MAX)
		return DP_DROP_FRAG_TOO_BIG;
	if (more && (len % RTE_IPV4_HDR_OFFSET_UNITS) != 0)
		return DP_DROP_FRAG_BAD;
	/* RFC 1858: would rewrite the TCP flags of the first fragment */
	if (pi->proto == IPPROTO_TCP && off == RTE_IPV4_HDR_OFFSET_UNITS)
		return DP_DROP_FRAG_BAD;
	return DP_PASS;
}

/* Whether the fragment d belongs to the datagram of ip. */
static bool
same_datagram(const struct rte_mbuf *d, const struct rte_ipv4_hdr *ip)
{
	const struct rte_ipv4_hdr *o = rte_pktmbuf_mtod_offset(
		d, const struct rte_ipv4_hdr *, d->l2_len);

	return o->src_addr == ip->src_addr && o->dst_addr == ip->dst_addr &&
	       o->packet_id == ip->packet_id &&
	       o->next_proto_id == ip->next_proto_id;
}

/* Count what is on the death row (see the top), then free it. */
static void
count_row(struct dp_worker *w, struct rte_ip_frag_death_row *dr,
	  const struct rte_ipv4_hdr *key)
{
	uint32_t ours = 0;

	/* a failed reassembly may have chained some fragments: one
	 * segment each */
	for (uint32_t i = 0; i < dr->cnt; i++) {
		if (key != NULL && same_datagram(dr->row[i], key))
			ours += dr->row[i]->nb_segs;
		else
			w->drops[DP_DROP_FRAG_TIMEOUT] += dr->row[i]->nb_segs;
	}
	if (ours == 1)
		w->drops[DP_DROP_FRAG_TABLE_FULL]++;
	else
		w->drops[DP_DROP_FRAG_BAD] += ours;
	rte_ip_frag_free_death_row(dr, 0);
}

struct rte_mbuf *
ipfrag_input(struct dp_worker *w, struct rte_mbuf *m, struct pkt_info *pi)
{
	struct ipfrag_worker *fw = &w->dp->frag->w[w->index];
	struct rte_ipv4_hdr *ip, key;
	struct rte_mbuf *r;
	enum dp_drop why;

	ip = pkt_at(m, struct rte_ipv4_hdr *, pi->l2_len);
	why = frag_check(w->dp->frag, pi, ip);
	if (why != DP_PASS) {
		drop(w, m, why);
		return NULL;
	}
	/* the library reads l2/l3_len and may free m: keep its key */
	key = *ip;
	m->l2_len = pi->l2_len;
	m->l3_len = pi->l3_len;
	r = rte_ipv4_frag_reassemble_packet(fw->tbl, &fw->dr, m, rte_rdtsc(),
					    ip);
	if (fw->dr.cnt > 0)
		count_row(w, &fw->dr, &key);
	if (r == NULL)
		return NULL;
	ip = rte_pktmbuf_mtod_offset(r, struct rte_ipv4_hdr *, r->l2_len);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	why = pkt_parse(r, pi);
	if (why != DP_PASS) {
		drop(w, r, why);
		return NULL;
	}
	w->frag_st.reassembled++;
	return r;
}

void
ipfrag_handoff(struct dp_worker *w, struct rte_mbuf *m, uint16_t port,
	       unsigned int owner)
{
	struct rte_ring *r = w->dp->frag->w[owner].handoff;

	m->hash.usr = port;
	if (r == NULL || rte_ring_mp_enqueue(r, m) != 0) {
		drop(w, m, DP_DROP_HANDOFF_FULL);
		return;
	}
	w->frag_st.handoff_out++;
}

unsigned int
ipfrag_handoff_take(struct dp_worker *w, struct rte_mbuf **pkts, unsigned int n)
{
	struct rte_ring *r = w->dp->frag->w[w->index].handoff;

	if (r == NULL)
		return 0;
	return rte_ring_sc_dequeue_burst(r, (void **)pkts, n, NULL);
}

void
ipfrag_poll(struct dp_worker *w)
{
	struct ipfrag_worker *fw = &w->dp->frag->w[w->index];

	rte_ip_frag_table_del_expired_entries(fw->tbl, &fw->dr, rte_rdtsc());
	if (fw->dr.cnt > 0)
		count_row(w, &fw->dr, NULL);
}

/* ---- out -------------------------------------------------------------------- */

/* IP bytes one mbuf of m's pool holds after its headroom. */
static uint16_t
mbuf_room(const struct rte_mbuf *m)
{
	uint16_t room = rte_pktmbuf_data_room_size(m->pool);

	return room > RTE_PKTMBUF_HEADROOM
		       ? (uint16_t)(room - RTE_PKTMBUF_HEADROOM)
		       : 0;
}

/* A one-segment copy of the frame m (pkt_len bytes), or NULL. */
static struct rte_mbuf *
copy_flat(struct rte_mbuf *m)
{
	struct rte_mbuf *c = rte_pktmbuf_alloc(m->pool);
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const void *src;
	char *dst;

	if (c == NULL)
		return NULL;
	if (len > rte_pktmbuf_tailroom(c) ||
	    (dst = rte_pktmbuf_append(c, (uint16_t)len)) == NULL) {
		rte_pktmbuf_free(c);
		return NULL;
	}
	src = rte_pktmbuf_read(m, 0, len, dst);
	if (src == NULL) {
		rte_pktmbuf_free(c);
		return NULL;
	}
	if (src != dst)
		memcpy(dst, src, len);
	c->port = m->port;
	return c;
}

/*
 * Cut the tail of the chain m so that it holds len bytes (len <=
 * pkt_len); rte_pktmbuf_trim() only cuts within the last segment.
 */
static void
chain_cut(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *s = m, *rest;
	uint32_t seen = 0;

	while (s != NULL && seen + s->data_len < len) {
		seen += s->data_len;
		s = s->next;
	}
	if (s == NULL)
		return;
	s->data_len = (uint16_t)(len - seen);
	rest = s->next;
	s->next = NULL;
	m->pkt_len = len;
	while (rest != NULL) {
		struct rte_mbuf *n = rest->next;

		m->nb_segs--;
		rest->next = NULL;
		rest->nb_segs = 1;
		rte_pktmbuf_free_seg(rest);
		rest = n;
	}
}

/*
 * Cut the IPv4 datagram m (no L2 header, pkt_len exactly the datagram)
 * into out[] of at most limit bytes each, one segment and limit + hdrs
 * headroom free in front of each; the fragments' header checksums are
 * left to the caller. Returns the count, or 0 (m dropped, counted).
 * Consumes m.
 */
static unsigned int
cut(struct dp_worker *w, struct rte_mbuf *m, uint16_t limit, uint16_t hdrs,
    struct rte_mbuf **out)
{
	int32_t n;

	n = rte_ipv4_fragment_packet(m, out, IPFRAG_OUT_MAX, limit, m->pool,
				     m->pool);
	rte_pktmbuf_free(m); /* the fragments hold what they need of it */
	if (n <= 0) {
		w->drops[n == -ENOMEM ? DP_DROP_FRAG_NOMEM : DP_DROP_TOO_BIG]++;
		return 0;
	}
	for (int32_t i = 0; i < n; i++) {
		if (rte_pktmbuf_linearize(out[i]) == 0 &&
		    rte_pktmbuf_headroom(out[i]) >= hdrs)
			continue;
		for (int32_t j = 0; j < n; j++)
			rte_pktmbuf_free(out[j]);
		w->drops[DP_DROP_FRAG_NOMEM]++;
		return 0;
	}
	return (unsigned int)n;
}

/*
 * An IPIP packet (TUNNEL) over the MTU whose inner datagram has no DF:
 * the inner datagram is cut and each piece gets the outer header, so
 * that every packet on the wire is a whole IPIP packet (decapsulators
 * in XDP, as bpf/tun_decap, leave outer fragments to a kernel that may
 * have no ipip device). eth and the outer header at ip (ihl bytes) are
 * copied; the outer IDs count up from the original's.
 */
static unsigned int
split_ipip(struct dp_worker *w, struct rte_mbuf *m,
	   const struct rte_ether_hdr *eth, uint16_t ihl, uint16_t limit,
	   struct rte_mbuf **out)
{
	struct rte_ipv4_hdr outer, *in;
	uint16_t id;
	unsigned int n;

	memcpy(&outer, rte_pktmbuf_mtod_offset(m, void *, sizeof(*eth)),
	       sizeof(outer));
	id = rte_be_to_cpu_16(outer.packet_id);
	rte_pktmbuf_adj(m, (uint16_t)(sizeof(*eth) + ihl));
	in = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	chain_cut(m, rte_be_to_cpu_16(in->total_length));
	n = cut(w, m, (uint16_t)(limit - ihl), (uint16_t)(sizeof(*eth) + ihl),
		out);
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *f = out[i];
		char *p;
		struct rte_ipv4_hdr *o;

		in = rte_pktmbuf_mtod(f, struct rte_ipv4_hdr *);
		in->hdr_checksum = rte_ipv4_cksum(in);
		p = rte_pktmbuf_prepend(f, (uint16_t)(sizeof(*eth) + ihl));
		memcpy(p, eth, sizeof(*eth));
		o = (struct rte_ipv4_hdr *)(p + sizeof(*eth));
		memcpy(o, &outer, sizeof(outer));
		/* options, if any, are not ours: IPIP headers have none */
		o->total_length = rte_cpu_to_be_16(
			(uint16_t)(rte_pktmbuf_pkt_len(f) - sizeof(*eth)));
		o->packet_id = rte_cpu_to_be_16((uint16_t)(id + i));
		o->hdr_checksum = 0;
		o->hdr_checksum = rte_ipv4_cksum(o);
	}
	if (n > 0) {
		w->frag_st.fragmented++;
		w->frag_st.fragments_out += n;
	}
	return n;
}

unsigned int
ipfrag_split(struct dp_worker *w, struct rte_mbuf *m, uint16_t mtu,
	     struct rte_mbuf **out)
{
	struct rte_ether_hdr eth;
	struct rte_ipv4_hdr *ip;
	struct rte_mbuf *c;
	uint16_t limit = RTE_MIN(mtu, mbuf_room(m)), ihl;
	uint32_t iplen;
	unsigned int n;

	if (rte_pktmbuf_data_len(m) < sizeof(eth) + sizeof(*ip)) {
		drop(w, m, DP_DROP_TRUNCATED);
		return 0;
	}
	memcpy(&eth, rte_pktmbuf_mtod(m, void *), sizeof(eth));
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(eth));
	if (eth.ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    rte_pktmbuf_pkt_len(m) - sizeof(eth) <= limit) {
		/* fits: one segment again */
		c = copy_flat(m);
		rte_pktmbuf_free(m);
		if (c == NULL) {
			w->drops[DP_DROP_FRAG_NOMEM]++;
			return 0;
		}
		out[0] = c;
		return 1;
	}
	iplen = rte_be_to_cpu_16(ip->total_length);
	if (iplen < sizeof(*ip) || iplen + sizeof(eth) > m->pkt_len) {
		drop(w, m, DP_DROP_BAD_TOTAL_LEN);
		return 0;
	}
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (ip->next_proto_id == IPPROTO_IPIP && ihl == sizeof(*ip) &&
	    !(ip->fragment_offset &
	      rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
			       RTE_IPV4_HDR_OFFSET_MASK)) &&
	    rte_pktmbuf_data_len(m) >= sizeof(eth) + 2 * sizeof(*ip)) {
		const struct rte_ipv4_hdr *in = (const void *)(ip + 1);
		uint16_t tl = rte_be_to_cpu_16(in->total_length);

		if ((in->version_ihl >> 4) == 4 &&
		    !(in->fragment_offset &
		      rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) &&
		    tl >= sizeof(*in) && tl + ihl <= iplen)
			return split_ipip(w, m, &eth, ihl, limit, out);
	}
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
		drop(w, m, DP_DROP_TOO_BIG);
		return 0;
	}
	/* exactly the datagram (the fragments are cut from pkt_len) */
	chain_cut(m, (uint32_t)sizeof(eth) + iplen);
	rte_pktmbuf_adj(m, sizeof(eth));
	n = cut(w, m, limit, sizeof(eth), out);
	for (unsigned int i = 0; i < n; i++) {
		char *p = rte_pktmbuf_prepend(out[i], sizeof(eth));

		memcpy(p, &eth, sizeof(eth));
		ip = (struct rte_ipv4_hdr *)(p + sizeof(eth));
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (n == 0)
		return 0;
	w->frag_st.fragmented++;
	w->frag_st.fragments_out += n;
	return n;
}
