/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the route text of an API version
 * (controlplane/gateway/gw_api_text.c): the input is the text lbctl api
 * create sends. It is checked as the store checks it (gw_api_validate:
 * inih through the line-counting reader, gw_conf_key, gw_table_build).
 * When it passes, the same text parsed with the API's prefix must pass
 * too, with every route and upstream named "api.f." and every proxied
 * route bound to a prefixed upstream; a refusal must explain itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[512] = "";
	struct gw_conf c;
	int rc;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* lbmsg strings end at the first NUL */
	rc = gw_api_validate("f", text, err, sizeof(err));
	if (rc < 0) {
		if (err[0] == '\0')
			abort(); /* a refusal says why */
		free(text);
		return 0;
	}
	gw_conf_init(&c);
	if (gw_api_text_parse("f", text, true, &c, err, sizeof(err)) < 0)
		abort(); /* valid as written, valid prefixed */
	for (size_t i = 0; i < c.nroutes; i++) {
		if (strncmp(c.routes[i].name, "api.f.", 6) != 0)
			abort();
		if (c.routes[i].action == GW_ACT_PROXY &&
		    strncmp(c.routes[i].upstream, "api.f.", 6) != 0)
			abort();
	}
	for (size_t i = 0; i < c.nups; i++)
		if (strncmp(c.ups[i].name, "api.f.", 6) != 0)
			abort();
	gw_conf_fini(&c);
	free(text);
	return 0;
}
