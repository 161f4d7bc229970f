/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lbctl api (lbctl_api.c): the gateway's API lifecycle commands.
 */
#ifndef EDGELB_LBCTL_API_H
#define EDGELB_LBCTL_API_H

#include <stdio.h>

#include "lbctl_args.h"

struct lbctl_fmt;

/*
 * The words after "api" (w[0] is the verb) into one MODULE_CMD request.
 * 0, or a usage error (-EINVAL with p->err), or -ENOMEM.
 */
int lbctl_api_parse(struct lbctl_pctx *p, char **w, int n);

/*
 * Before sending: read cmd->data_file (if any) into the request's
 * MOD_DATA. 0 or -errno with err ("FILE: why").
 */
int lbctl_api_attach(struct lbctl_cmd *cmd, char *err, size_t errlen);

/* Print the reply of an api command (JSON with -j). 0 or -EBADMSG. */
int lbctl_api_print(struct lbctl_fmt *f, FILE *out);

#endif
