/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * [filter NAME] sections (gw_filter_conf_key) and the small parsing
 * helpers the filter types share (numbers, booleans, files, base64url,
 * hex).
 *
 * A section starts with `type = TYPE`; each further key is checked by
 * the type as it comes (so that an error names its line) and kept as
 * text; the type's create parses the kept keys again when the table is
 * built and reads the files they name then.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gw_filter_priv.h"
#include "edgelb/util.h"

bool
gw_fis_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

int
gw_fparse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

int
gw_fparse_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		 strcmp(v, "0") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int
gw_fread_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t k = read(fd, b + n, (size_t)st.st_size - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			goto out;
		}
		n += (size_t)k;
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
gw_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4 == 1)
		return -EINVAL; /* no length leaves one character over */
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -EINVAL;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* leftover bits must be zero (one encoding per value) */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (int)o;
}

void
gw_hex(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- [filter NAME] ------------------------------------------------------------- */

static struct gw_filter_conf *
filter_get(struct gw_conf *c, const char *name, bool *created)
{
	struct gw_filter_conf *f;

	*created = false;
	for (size_t i = 0; i < c->nfilters; i++)
		if (strcmp(c->filters[i].name, name) == 0)
			return &c->filters[i];
	if (c->nfilters >= GW_MAX_FILTER_CONFS) {
		errno = ENOSPC;
		return NULL;
	}
	f = realloc(c->filters, (c->nfilters + 1) * sizeof(*f));
	if (f == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	c->filters = f;
	f = &c->filters[c->nfilters++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	*created = true;
	return f;
}

int
gw_filter_conf_key(struct gw_conf *c, const char *name, const char *key,
		   const char *value, char *err, size_t errlen)
{
	struct gw_filter_conf *f;
	char why[160] = "";
	bool created;
	int rc;

	if (name[0] == '\0' || strlen(name) >= GW_NAME_MAX ||
	    !gw_fis_token(name))
		return lb_errf(err, errlen, -EINVAL,
			       "filter: bad name \"%.64s\" (a token of at most "
			       "%d bytes)",
			       name, GW_NAME_MAX - 1);
	f = filter_get(c, name, &created);
	if (f == NULL)
		return lb_errf(err, errlen, -errno, "filter %s: %s", name,
			       errno == ENOSPC ? "too many filters"
					       : "out of memory");
	if (strcmp(key, "type") == 0) {
		const struct gw_filter_ops *ops = gw_filter_find(value);

		if (ops == NULL && created)
			c->nfilters--; /* no half-made section stays */
		if (ops == NULL)
			return lb_errf(err, errlen, -EINVAL,
				       "filter %s: type: unknown type "
				       "\"%.32s\" (apikey, jwt, hmac, "
				       "ratelimit, breaker, cache, degrade, "
				       "transform)",
				       name, value);
		if (f->ops != NULL && f->ops != ops)
			return lb_errf(err, errlen, -EINVAL,
				       "filter %s: type: given twice", name);
		f->ops = ops;
		return 0;
	}
	if (f->ops == NULL) {
		if (created)
			c->nfilters--; /* no half-made section stays */
		return lb_errf(err, errlen, -EINVAL,
			       "filter %s: %s: `type` must come first", name,
			       key);
	}
	if (strlen(key) >= sizeof(f->kv[0].key) ||
	    strlen(value) >= sizeof(f->kv[0].value))
		return lb_errf(err, errlen, -EINVAL,
			       "filter %s: %.32s: key or value too long "
			       "(value at most %zu bytes)",
			       name, key, sizeof(f->kv[0].value) - 1);
	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return lb_errf(err, errlen, -EINVAL,
				       "filter %s: %s: control byte in value",
				       name, key);
	rc = f->ops->check_key(key, value, why, sizeof(why));
	if (rc == -ENOENT)
		return lb_errf(err, errlen, -EINVAL,
			       "filter %s: unknown key \"%.32s\" for type %s",
			       name, key, f->ops->type);
	if (rc < 0)
		return lb_errf(err, errlen, -EINVAL, "filter %s: %s: %s", name,
			       key, why[0] != '\0' ? why : "bad value");
	if (f->nkeys >= GW_FILTER_KEYS)
		return lb_errf(err, errlen, -ENOSPC,
			       "filter %s: %s: too many keys (at most %d)",
			       name, key, GW_FILTER_KEYS);
	snprintf(f->kv[f->nkeys].key, sizeof(f->kv[0].key), "%s", key);
	snprintf(f->kv[f->nkeys].value, sizeof(f->kv[0].value), "%s", value);
	f->nkeys++;
	return 0;
}
