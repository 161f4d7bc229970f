/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the lbmsg parser: any byte string is offered to
 * lbmsg_parse() as one received datagram; whatever it accepts is walked
 * completely (every list element parsed as a record, every address and
 * string read) as a handler would, so that an acceptance bug shows up as
 * an out-of-bounds access under ASan.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgelb/lbmsg.h"

static void
walk(struct nlattr **tb)
{
	for (int a = 1; a <= LB_ATTR_MAX; a++) {
		struct nlattr *pos;
		struct lb_addr addr;
		volatile size_t sink = 0;
		int rem;

		if (tb[a] == NULL)
			continue;
		switch (lbmsg_attr_type(a)) {
		case LBMSG_AT_ADDR:
			if (lbmsg_get_addr(tb[a], &addr) != 0)
				abort(); /* accepted, so it must read */
			break;
		case LBMSG_AT_STRING:
			sink += strlen(nla_get_string(tb[a]));
			break;
		case LBMSG_AT_LIST:
			lbmsg_list_for_each (pos, tb[a], rem) {
				struct nlattr *rtb[LB_ATTR_MAX + 1];

				if (lbmsg_parse_record(pos, rtb) != 0)
					abort();
				walk(rtb);
			}
			break;
		default:
			sink += (size_t)nla_len(tb[a]);
			break;
		}
		(void)sink;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlattr *tb[LB_ATTR_MAX + 1];
	char err[LBMSG_ERRMSG_MAX];
	uint8_t *buf;

	/* A datagram lands in an aligned buffer of exactly its size. */
	buf = malloc(size > 0 ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (lbmsg_parse((struct nlmsghdr *)buf, size, tb, err, sizeof(err)) ==
	    0)
		walk(tb);
	else if (err[0] == '\0')
		abort(); /* every rejection explains itself */
	free(buf);
	return 0;
}
