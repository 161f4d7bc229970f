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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_file.h"

/* Parse data as a state file; the cfg, or NULL when rejected. */
static struct cfg *
parse(const void *data, size_t size)
{
	struct cfg_errors e = { 0 };
	struct cfg *c = cfg_new(NULL, 0);
	char path[64];
	int fd, rc;

	if (c == NULL)
		abort();
	fd = fuzz_file(data, size, path, sizeof(path));
	rc = cfg_parse_state(c, path, &e);
	close(fd);
	if (rc == 0)
		rc = cfg_validate(c, &e); /* as cfg_load() does */
	if (rc != 0 && e.n == 0)
		__builtin_trap(); /* rejected without a word */
	cfg_errors_free(&e);
	if (rc != 0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

static char *
text_of(const struct cfg *c, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (out == NULL || cfg_write_services(c, out) != 0)
		__builtin_trap();
	fclose(out);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *c, *c2;
	char *t1, *t2;
	size_t l1, l2;

	if (size > 64 * 1024)
		return 0;
	c = parse(data, size);
	if (c == NULL)
		return 0;
	t1 = text_of(c, &l1);
	c2 = parse(t1, l1);
	if (c2 == NULL) {
		fprintf(stderr, "--- written, not read back\n%s", t1);
		__builtin_trap();
	}
	t2 = text_of(c2, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "--- written\n%s--- read back and written\n%s",
			t1, t2);
		__builtin_trap();
	}
	free(t1);
	free(t2);
	cfg_free(c);
	cfg_free(c2);
	return 0;
}
