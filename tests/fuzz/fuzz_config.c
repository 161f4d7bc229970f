/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for edgelbd's configuration parser: the input is the
 * INI file, parsed as edgelbd reads its main file (cfg_parse_file with
 * every module's sections, so [httpdns] and its keys are parsed too),
 * then validated (cfg_validate). The state file is not read: the input
 * names no file for it that exists here.
 *
 * Checked beyond ASan/UBSan: a rejected file always has at least one
 * error message, each naming the file; an accepted file's services,
 * written as a state file (cfg_write_services), parse back without error
 * (cfg_parse_state) and write out again byte for byte the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_cfg.h"
#include "fuzz_file.h"
#include "modules.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors e = { 0 };
	const struct cfg_module_ops *mods[CFG_MAX_MODULES];
	struct cfg *c;
	char path[64];
	size_t nmods;
	int fd, rc;

	if (size > 64 * 1024)
		return 0;
	nmods = lbd_cfg_modules(mods);
	c = cfg_new(mods, nmods);
	if (c == NULL)
		abort();
	fd = fuzz_file(data, size, path, sizeof(path));
	rc = cfg_parse_file(c, path, &e);
	close(fd);
	if (rc == 0)
		rc = cfg_validate(c, &e);
	if (rc != 0) {
		if (e.n == 0)
			__builtin_trap(); /* rejected without a word */
		for (size_t i = 0; i < e.n; i++)
			if (strstr(e.msg[i], path) == NULL)
				__builtin_trap(); /* a message must name it */
	} else {
		fuzz_cfg_round_trip(c, false);
	}
	cfg_errors_free(&e);
	cfg_free(c);
	return 0;
}
