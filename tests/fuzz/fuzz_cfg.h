/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For the fuzz targets of edgelbd's configuration (fuzz_config: the main
 * file; fuzz_state: the state file): the state-file round trip they both
 * check. Every violation is a __builtin_trap(), after the texts or the
 * errors are printed to stderr.
 */
#ifndef EDGELB_FUZZ_CFG_H
#define EDGELB_FUZZ_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* The services of c as state-file text (malloc'd, NUL-terminated, its
 * length in *len); traps when cfg_write_services() fails. */
char *fuzz_cfg_text(const struct cfg *c, size_t *len);

/*
 * data[0..size) parsed as a state file into a new cfg (cfg_parse_state,
 * then, when validate, cfg_validate as cfg_load does). Returns the cfg,
 * or NULL when rejected, the errors in e (which the caller frees); traps
 * when rejected without an error message.
 */
struct cfg *fuzz_cfg_state(const void *data, size_t size, bool validate,
			   struct cfg_errors *e);

/*
 * The services of c, written as a state file, must parse back (validated
 * when validate) and write out byte for byte the same.
 */
void fuzz_cfg_round_trip(const struct cfg *c, bool validate);

#endif
