/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * main() of the tests that drive the dataplane's stages in process
 * (test_fwd, test_fwd_limits, test_fwd_adopt, test_synproxy, test_frag).
 */
#ifndef EDGELB_TESTS_DP_TEST_MAIN_H
#define EDGELB_TESTS_DP_TEST_MAIN_H

#include <check.h>

#include <rte_mempool.h>

/*
 * Initialise the EAL as name (4 KiB pages, no PCI, lcore 0), make an mbuf
 * pool of nb_mbufs into *pool, run suite() without forking, clean up.
 * Returns the process's exit status.
 */
int dp_test_main(const char *name, Suite *(*suite)(void),
		 struct rte_mempool **pool, unsigned int nb_mbufs);

#endif
