/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness for the dataplane packet tests: runs the real edgelb-dp binary
 * on pcap ports in a private temporary directory, talks to its dp.sock
 * with the lbmsg client, reads its counters, stops it with SIGTERM and
 * cleans up (also when a test fails half-way).
 */
#ifndef EDGELB_TEST_DP_HARNESS_H
#define EDGELB_TEST_DP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "edgelb/lbmsg.h"

/*
 * EAL options of every run: no hugepages, no PCI, no shared files (so
 * runs never collide), 1 main + 1 worker lcore. (--in-memory is refused
 * together with --no-huge by DPDK 22.11; --no-shconf does the job.)
 */
#define DP_TEST_EAL                                                            \
	"--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-l", "0,1",      \
		"--log-level=lib.eal:error"

struct dp_run {
	char dir[128];	/* private temp dir */
	char path[192]; /* scratch for file names */
	pid_t pid;
	struct lbmsg_client *c;
};

extern int dp_failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			dp_failures++;                                         \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

/* Make the temp dir; exits the test on failure. Cleans up at exit. */
void dp_run_init(struct dp_run *r);

/* dir/name into r->path; returns r->path. */
const char *dp_run_file(struct dp_run *r, const char *name);

/*
 * Write ini (every "@DIR@" replaced by the temp dir) to dir/dp.ini and
 * start bin with DP_TEST_EAL -- -c dir/dp.ini; stderr goes to dir/dp.log.
 * Waits up to 20 s for dp.sock to accept. 0 or -1.
 */
int dp_run_start(struct dp_run *r, const char *bin, const char *ini);

/* SIGTERM, wait up to 20 s (then SIGKILL). Returns the exit status, or -1
 * when it did not exit normally. */
int dp_run_stop(struct dp_run *r);

/* Print dir/dp.log to stderr (after a failure). */
void dp_run_dump_log(struct dp_run *r);

/* ---- requests ----------------------------------------------------------- */

/* Send msg (freed here); returns the ack's error. cb may be NULL. */
int dp_req(struct dp_run *r, struct nl_msg *msg, lbmsg_part_fn cb, void *arg);

/* Counters from STATS_GET, summed: per port name, per drop reason. */
struct dp_counter {
	char scope[32]; /* port name, "lcore", or "drop" */
	char name[64];
	uint64_t value;
};

struct dp_stats {
	struct dp_counter c[512];
	unsigned int n;
};

int dp_stats_get(struct dp_run *r, struct dp_stats *st);

/* The value of scope/name (summed over parts), or 0. */
uint64_t dp_stat(const struct dp_stats *st, const char *scope,
		 const char *name);

/* Poll STATS_GET until scope/name >= want or timeout_ms passes.
 * Returns the last value seen. */
uint64_t dp_stat_wait(struct dp_run *r, const char *scope, const char *name,
		      uint64_t want, int timeout_ms);

/* ---- packets ------------------------------------------------------------ */

/* Internet checksum, as RFC 1071, computed independently of DPDK. */
uint16_t dp_cksum(const void *buf, size_t len);

#endif
