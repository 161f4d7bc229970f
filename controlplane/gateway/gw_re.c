/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's per-thread PCRE2 match data (gw_re.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

#include "gw_re.h"

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static __thread pcre2_match_data *md_thread;

static void
md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void
md_key_init(void)
{
	(void)pthread_key_create(&md_key, md_free);
}

void *
gw_re_match_data(void)
{
	if (md_thread == NULL) {
		md_thread = pcre2_match_data_create(GW_RE_CAPTURES, NULL);
		if (md_thread == NULL)
			return NULL;
		pthread_once(&md_once, md_key_init);
		(void)pthread_setspecific(md_key, md_thread);
	}
	return md_thread;
}
