/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for edgelbd's state file (the services lbctl changed,
 * persisted by cfg_save_state): the input is parsed with cfg_parse_state
 * into an empty configuration and validated (cfg_validate), as cfg_load
 * does at start.
 *
 * Checked beyond ASan/UBSan: a rejected file has an error message; an
 * accepted one, written again (cfg_write_services), parses back without
 * error and writes out byte for byte the same (parse -> write -> parse
 * is stable).
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fuzz_cfg.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors e = { 0 };
	struct cfg *c;

	if (size > 64 * 1024)
		return 0;
	c = fuzz_cfg_state(data, size, true, &e);
	cfg_errors_free(&e);
	if (c == NULL)
		return 0;
	fuzz_cfg_round_trip(c, true);
	cfg_free(c);
	return 0;
}
