/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state-file round trip of the configuration fuzz targets; see
 * fuzz_cfg.h.
 */
#include "fuzz_cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_file.h"

char *
fuzz_cfg_text(const struct cfg *c, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (out == NULL || cfg_write_services(c, out) != 0)
		__builtin_trap();
	fclose(out);
	return text;
}

struct cfg *
fuzz_cfg_state(const void *data, size_t size, bool validate,
	       struct cfg_errors *e)
{
	struct cfg *c = cfg_new(NULL, 0);
	char path[64];
	int fd, rc;

	if (c == NULL)
		abort();
	fd = fuzz_file(data, size, path, sizeof(path));
	rc = cfg_parse_state(c, path, e);
	close(fd);
	if (rc == 0 && validate)
		rc = cfg_validate(c, e);
	if (rc != 0 && e->n == 0)
		__builtin_trap(); /* rejected without a word */
	if (rc != 0) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

void
fuzz_cfg_round_trip(const struct cfg *c, bool validate)
{
	struct cfg_errors e = { 0 };
	struct cfg *c2;
	char *t1, *t2;
	size_t l1, l2;

	t1 = fuzz_cfg_text(c, &l1);
	c2 = fuzz_cfg_state(t1, l1, validate, &e);
	if (c2 == NULL) {
		fprintf(stderr, "--- written, not read back\n%s", t1);
		cfg_errors_print(&e, stderr);
		__builtin_trap(); /* we wrote what we cannot read */
	}
	t2 = fuzz_cfg_text(c2, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0) {
		fprintf(stderr, "--- written\n%s--- read back and written\n%s",
			t1, t2);
		__builtin_trap();
	}
	free(t1);
	free(t2);
	cfg_errors_free(&e);
	cfg_free(c2);
}
