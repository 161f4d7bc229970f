/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process context's own services (see dp.h): deferred freeing after
 * an RCU grace period and the control thread's clock.
 */
#include <time.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dp.h"

void
dp_defer_free(struct dp_ctx *dp, void *p)
{
	if (dp->dq != NULL && rte_rcu_qsbr_dq_enqueue(dp->dq, &p) == 0)
		return;
	/* no queue yet (no worker running) or queue full: wait it out */
	if (dp->qsv != NULL)
		rte_rcu_qsbr_synchronize(dp->qsv, RTE_QSBR_THRID_INVALID);
	rte_free(p);
}
