/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_conn: memory per tracked connection (figure 3 of
 * docs/BENCHMARKS.md), measured on the dataplane's own connection table.
 *
 * For each size N it creates a worker's table (conn_table_create: the
 * rte_hash with both directions' entries and the struct conn mempool)
 * and reads how much of DPDK's heap that took (rte_malloc socket stats,
 * allocated bytes before and after), then fills it with N FULL-NAT
 * connections (an in and an out entry each, as the forwarding stage
 * inserts them) and times the inserts and a pass of lookups. Every
 * insert and lookup is checked, so a broken table fails the run (exit 1)
 * instead of producing a figure.
 *
 *   bytes_per_conn = heap bytes of the table / N
 *
 * Usage: bench_conn [EAL options] -- [--smoke] SIZE...
 * Output: one JSON object on stdout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "conn.h"

#define BENCH_MAX_SIZES 8

struct conn_result {
	uint32_t size;
	uint64_t heap_bytes;
	double insert_ns;
	double lookup_ns;
};

static const struct dpconf_timeouts bench_tmo = {
	.syn_recv = 30,
	.established = 900,
	.fin_wait = 120,
	.time_wait = 120,
	.close = 10,
	.udp = 300,
};

static uint64_t
heap_used(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

/* Connection i: client 10.x.y.z:port -> VIP, local 10.200.x.y:port. */
static void
fill(struct conn *c, uint32_t i)
{
	c->caddr = rte_cpu_to_be_32(0x0b000000u + i / 50000);
	c->cport = rte_cpu_to_be_16((uint16_t)(1024 + i % 50000));
	c->vaddr = rte_cpu_to_be_32(0x0a000064u);
	c->vport = rte_cpu_to_be_16(80);
	c->laddr = rte_cpu_to_be_32(0x0ac80000u + i / 50000);
	c->lport = c->cport;
	c->baddr = rte_cpu_to_be_32(0x0a000101u + i % 10);
	c->bport = rte_cpu_to_be_16(8080);
	c->proto = IPPROTO_UDP;
	c->mode = LB_MODE_FNAT;
	c->flags = CONN_F_OUT;
}

static int
measure(uint32_t size, struct conn_result *r)
{
	struct conn_table_conf conf = {
		.name = "bench",
		.size = size,
		.socket_id = (int)rte_socket_id(),
		.tmo = &bench_tmo,
	};
	uint64_t before = heap_used(), t0, t1, hz = rte_get_tsc_hz();
	struct conn_table *ct;
	struct conn_key k;
	struct conn *c;
	unsigned int dir;
	int ret = -1;

	ct = conn_table_create(&conf);
	if (ct == NULL) {
		fprintf(stderr, "bench_conn: table of %u: %s\n", size,
			strerror(errno));
		return -1;
	}
	r->size = size;
	r->heap_bytes = heap_used() - before;

	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < size; i++) {
		c = conn_alloc(ct);
		if (c == NULL) {
			fprintf(stderr, "bench_conn: pool empty at %u\n", i);
			goto out;
		}
		fill(c, i);
		if (conn_insert(ct, c) != 0) {
			conn_put(ct, c);
			fprintf(stderr, "bench_conn: insert %u failed\n", i);
			goto out;
		}
	}
	t1 = rte_rdtsc();
	r->insert_ns = (double)(t1 - t0) * 1e9 / hz / size;

	t0 = rte_rdtsc();
	for (uint32_t i = 0; i < size; i++) {
		struct conn want;

		memset(&want, 0, sizeof(want));
		fill(&want, i);
		conn_key_of(&want, i & 1 ? CONN_DIR_OUT : CONN_DIR_IN, &k);
		c = conn_lookup(ct, &k, &dir);
		if (c == NULL || c->caddr != want.caddr ||
		    c->cport != want.cport || dir != (i & 1u)) {
			fprintf(stderr, "bench_conn: lookup %u wrong\n", i);
			goto out;
		}
	}
	t1 = rte_rdtsc();
	r->lookup_ns = (double)(t1 - t0) * 1e9 / hz / size;
	ret = 0;
out:
	conn_table_destroy(ct);
	return ret;
}

int
main(int argc, char **argv)
{
	struct conn_result res[BENCH_MAX_SIZES];
	uint32_t sizes[BENCH_MAX_SIZES];
	unsigned int nsizes = 0;
	int ret, smoke = 0;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "bench_conn: EAL: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	for (int i = ret + 1; i < argc; i++) {
		char *end;
		unsigned long v;

		if (strcmp(argv[i], "--smoke") == 0) {
			smoke = 1;
			continue;
		}
		v = strtoul(argv[i], &end, 10);
		if (*end != '\0' || v < 64 || v > (1ul << 28) ||
		    nsizes == BENCH_MAX_SIZES) {
			fprintf(stderr, "usage: bench_conn [EAL] -- [--smoke] "
					"SIZE...\n");
			rte_eal_cleanup();
			return 2;
		}
		sizes[nsizes++] = (uint32_t)v;
	}
	if (nsizes == 0)
		sizes[nsizes++] = smoke ? 65536 : 1000000;

	for (unsigned int i = 0; i < nsizes; i++) {
		if (measure(sizes[i], &res[i]) != 0) {
			rte_eal_cleanup();
			return 1;
		}
	}
	printf("{\"figure\": \"conn_memory\", \"conn_struct_bytes\": %zu, "
	       "\"key_bytes\": %zu, \"results\": [\n",
	       sizeof(struct conn), sizeof(struct conn_key));
	for (unsigned int i = 0; i < nsizes; i++)
		printf("    {\"conns\": %u, \"heap_bytes\": %" PRIu64
		       ", \"bytes_per_conn\": %.1f, \"insert_ns\": %.1f, "
		       "\"lookup_ns\": %.1f}%s\n",
		       res[i].size, res[i].heap_bytes,
		       (double)res[i].heap_bytes / res[i].size,
		       res[i].insert_ns, res[i].lookup_ns,
		       i + 1 == nsizes ? "" : ",");
	printf("]}\n");
	rte_eal_cleanup();
	return 0;
}
