/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "dp_test_main.h"

int
dp_test_main(const char *name, Suite *(*suite)(void), struct rte_mempool **pool,
	     unsigned int nb_mbufs)
{
	char *eal[] = { (char *)name,  "--no-huge",   "-m", "512",
			"--no-pci",    "--no-shconf", "-l", "0",
			"--log-level", "error" };
	SRunner *sr;
	int failed;

	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "%s: EAL init failed\n", name);
		return EXIT_FAILURE;
	}
	*pool = rte_pktmbuf_pool_create("test_mbuf", nb_mbufs, 0, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE,
					SOCKET_ID_ANY);
	if (*pool == NULL) {
		fprintf(stderr, "%s: no mbuf pool\n", name);
		return EXIT_FAILURE;
	}
	sr = srunner_create(suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
