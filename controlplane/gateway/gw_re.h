/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCRE2 match data for the gateway's regexes (route paths, transform
 * path rewrites): one per thread, made on the thread's first match and
 * freed when it ends, so a match allocates nothing. Room for $0..$9.
 */
#ifndef EDGELBD_GW_RE_H
#define EDGELBD_GW_RE_H

#define GW_RE_CAPTURES 10 /* ovector pairs: the match and 9 captures */

/* The calling thread's pcre2_match_data (8-bit), or NULL (no memory). */
void *gw_re_match_data(void);

#endif
