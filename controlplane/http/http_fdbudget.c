/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The descriptor budget of the HTTP servers (see http_fdbudget.h): one
 * process-wide count of connections held, checked against the soft
 * RLIMIT_NOFILE minus a reserve. Atomics only: the servers of several
 * threads share it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

#include "http_fdbudget.h"
#include "edgelb/log.h"

static struct {
	uint64_t limit;
	uint64_t reserve;
	uint64_t budget; /* 0: unlimited (no soft limit known) */
	uint64_t in_use;
	uint64_t refused;
} fdb;

static pthread_once_t fdb_once = PTHREAD_ONCE_INIT;

uint32_t
http_fdbudget_reserve_for(uint32_t health_targets)
{
	uint64_t r = (uint64_t)HTTP_FDBUDGET_RESERVE_BASE + health_targets;

	return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

/* The budget for a limit and a reserve: the limit minus the reserve, but
 * never less than a quarter of the limit (a reserve larger than the limit
 * must not shut the servers out altogether). */
static uint64_t
budget_of(uint64_t limit, uint64_t reserve)
{
	uint64_t floor = limit / 4;

	if (limit == 0)
		return 0;
	return limit > reserve && limit - reserve > floor ? limit - reserve
							  : floor;
}

static void
publish(uint64_t limit, uint64_t reserve)
{
	uint64_t budget = budget_of(limit, reserve);

	__atomic_store_n(&fdb.limit, limit, __ATOMIC_RELAXED);
	__atomic_store_n(&fdb.reserve, reserve, __ATOMIC_RELAXED);
	__atomic_store_n(&fdb.budget, budget, __ATOMIC_RELEASE);
	if (limit != 0 && budget != limit - reserve)
		LB_WARN("http: %llu descriptors cannot keep a reserve of %llu; "
			"HTTP connections limited to %llu",
			(unsigned long long)limit, (unsigned long long)reserve,
			(unsigned long long)budget);
}

int
http_fdbudget_init(uint32_t reserve)
{
	struct rlimit rl;
	uint64_t limit;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int rc = -errno;

		publish(0, reserve);
		return rc;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
		else
			LB_WARN("http: raising RLIMIT_NOFILE to %llu: %s",
				(unsigned long long)rl.rlim_max,
				strerror(errno));
	}
	limit = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
	publish(limit, reserve);
	return 0;
}

void
http_fdbudget_set_reserve(uint32_t reserve)
{
	publish(__atomic_load_n(&fdb.limit, __ATOMIC_RELAXED), reserve);
}

static void
init_default(void)
{
	/* http_fdbudget_init already ran: keep its reserve */
	if (__atomic_load_n(&fdb.limit, __ATOMIC_ACQUIRE) != 0)
		return;
	http_fdbudget_init(HTTP_FDBUDGET_RESERVE_BASE);
}

int
http_fdbudget_take(void)
{
	uint64_t budget, n;

	pthread_once(&fdb_once, init_default);
	budget = __atomic_load_n(&fdb.budget, __ATOMIC_ACQUIRE);
	n = __atomic_add_fetch(&fdb.in_use, 1, __ATOMIC_RELAXED);
	if (budget == 0 || n <= budget)
		return 0;
	__atomic_sub_fetch(&fdb.in_use, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&fdb.refused, 1, __ATOMIC_RELAXED);
	return -EMFILE;
}

void
http_fdbudget_put(void)
{
	__atomic_sub_fetch(&fdb.in_use, 1, __ATOMIC_RELAXED);
}

void
http_fdbudget_stats(struct http_fdbudget_stats *st)
{
	st->limit = __atomic_load_n(&fdb.limit, __ATOMIC_RELAXED);
	st->reserve = __atomic_load_n(&fdb.reserve, __ATOMIC_RELAXED);
	st->budget = __atomic_load_n(&fdb.budget, __ATOMIC_RELAXED);
	st->in_use = __atomic_load_n(&fdb.in_use, __ATOMIC_RELAXED);
	st->refused = __atomic_load_n(&fdb.refused, __ATOMIC_RELAXED);
}
