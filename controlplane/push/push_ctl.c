/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * `lbctl push ...` on the daemon's side: one LB_MSG_MODULE_CMD request to
 * the module "push" (MOD_CMD "push.devices", "push.queue" or
 * "push.message"; MOD_ARGS "device=ID", "id=UUID", "limit=N") into reads
 * of the runtime and the store, answered as one JSON object in the reply's
 * MOD_DATA. docs/push.md "lbctl push" describes the answers.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "push_api.h"
#include "push_srv.h"
#include "edgelb/lbmsg.h"
#include "edgelb/util.h"

#define CTL_LIMIT_DEFAULT 100  /* devices or entries listed */
#define CTL_LIMIT_MAX	  1000 /* what one reply holds */

struct args {
	const char *device, *id;
	unsigned limit;
};

static int
parse_args(struct nlattr **tb, struct args *a, char *err, size_t errlen)
{
	struct nlattr *pos;
	int rem;

	memset(a, 0, sizeof(*a));
	a->limit = CTL_LIMIT_DEFAULT;
	if (tb[LB_ATTR_MOD_ARGS] == NULL)
		return 0;
	lbmsg_list_for_each (pos, tb[LB_ATTR_MOD_ARGS], rem) {
		const char *kv = nla_data(pos);
		const char *eq = strchr(kv, '=');
		const char *v = eq != NULL ? eq + 1 : "";
		size_t kl = eq != NULL ? (size_t)(eq - kv) : strlen(kv);
		char *end;
		unsigned long x;
		uint8_t raw[PUSH_ID_BYTES];

		if (eq == NULL || *v == '\0')
			return lb_errf(err, errlen, -EINVAL,
				       "argument \"%.64s\": not key=value", kv);
#define KEY(k) (kl == strlen(k) && strncmp(kv, k, kl) == 0)
		if (KEY("device")) {
			if (!push_name_valid(v, strlen(v)))
				return lb_errf(err, errlen, -EINVAL,
					       "bad device id \"%.64s\"", v);
			a->device = v;
		} else if (KEY("id")) {
			if (push_id_parse(v, raw) < 0)
				return lb_errf(err, errlen, -EINVAL,
					       "bad message id \"%.64s\" "
					       "(a UUID)",
					       v);
			a->id = v;
		} else if (KEY("limit")) {
			errno = 0;
			x = strtoul(v, &end, 10);
			if (v[0] < '0' || v[0] > '9' || *end != '\0' ||
			    errno != 0 || x == 0 || x > CTL_LIMIT_MAX)
				return lb_errf(err, errlen, -EINVAL,
					       "bad limit \"%.32s\" (1 to %d)",
					       v, CTL_LIMIT_MAX);
			a->limit = (unsigned)x;
		} else {
			return lb_errf(err, errlen, -EINVAL,
				       "unknown argument \"%.*s\"", (int)kl,
				       kv);
		}
#undef KEY
	}
	return 0;
}

/* ---- push.devices ----------------------------------------------------------- */

struct dev_list {
	cJSON *arr;
	unsigned n, limit;
};

static int
add_online(void *arg, const struct push_online *o)
{
	struct dev_list *l = arg;
	char host[64] = "", serv[16] = "", peer[96] = "";
	cJSON *d;

	if (l->n >= l->limit)
		return 1;
	d = cJSON_CreateObject();
	if (d == NULL || !cJSON_AddItemToArray(l->arr, d)) {
		cJSON_Delete(d);
		return -ENOMEM;
	}
	l->n++;
	cJSON_AddStringToObject(d, "device", o->device);
	if (o->peer_len > 0 &&
	    getnameinfo((const struct sockaddr *)&o->peer, o->peer_len, host,
			sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(peer, sizeof(peer),
			 o->peer.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			 host, serv);
	cJSON_AddStringToObject(d, "peer", peer[0] != '\0' ? peer : "-");
	cJSON_AddNumberToObject(d, "in_flight", o->in_flight);
	cJSON_AddNumberToObject(d, "sent_seq", (double)o->sent_seq);
	return 0;
}

static int
c_devices(struct push_srv *s, const struct args *a, cJSON *out, char *err,
	  size_t errlen)
{
	struct dev_list l = { .limit = a->limit };
	uint64_t online = push_srv_online(s);
	int rc;

	cJSON_AddNumberToObject(out, "online", (double)online);
	l.arr = cJSON_AddArrayToObject(out, "devices");
	if (l.arr == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	rc = push_srv_each_online(s, add_online, &l);
	if (rc < 0)
		return lb_errf(err, errlen, rc, "out of memory");
	cJSON_AddBoolToObject(out, "truncated", online > l.n);
	return 0;
}

/* ---- push.queue DEVICE --------------------------------------------------------- */

struct entries {
	cJSON *arr;
	int64_t now_ms;
	unsigned n;
};

static int
add_entry(void *arg, const struct push_entry *e)
{
	struct entries *x = arg;
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(x->arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	x->n++;
	if (e->device != NULL)
		cJSON_AddStringToObject(o, "device", e->device);
	if (e->msg.id[0] != '\0')
		cJSON_AddStringToObject(o, "id", e->msg.id);
	cJSON_AddNumberToObject(o, "seq", (double)e->seq);
	cJSON_AddStringToObject(o, "status", push_status_name(e->status));
	if (e->reason != NULL && e->reason[0] != '\0')
		cJSON_AddStringToObject(o, "reason", e->reason);
	cJSON_AddNumberToObject(o, "sends", e->sends);
	if (e->msg.created_ms > 0)
		cJSON_AddNumberToObject(
			o, "age_s",
			(double)((x->now_ms - e->msg.created_ms) / 1000));
	cJSON_AddNumberToObject(o, "updated_ms", (double)e->updated_ms);
	return 0;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
c_queue(struct push_srv *s, const struct args *a, cJSON *out, char *err,
	size_t errlen)
{
	void *st;
	const struct push_store_ops *ops = push_srv_store(s, &st);
	struct push_device_info di;
	struct entries x = { .now_ms = wall_ms() };
	int rc;

	if (a->device == NULL)
		return lb_errf(err, errlen, -EINVAL, "queue needs a device");
	rc = ops->device_get(st, a->device, &di);
	if (rc == -ENOENT)
		return lb_errf(err, errlen, rc, "no device '%s'", a->device);
	if (rc < 0)
		return lb_errf(err, errlen, rc, "store: %s", strerror(-rc));
	cJSON_AddStringToObject(out, "device", a->device);
	cJSON_AddBoolToObject(out, "online", push_srv_is_online(s, a->device));
	cJSON_AddNumberToObject(out, "depth", (double)di.pending);
	cJSON_AddNumberToObject(out, "last_seq", (double)di.last_seq);
	if (di.vendor[0] != '\0')
		cJSON_AddStringToObject(out, "vendor", di.vendor);
	/* the oldest deliverable entries, in order */
	x.arr = cJSON_AddArrayToObject(out, "oldest");
	if (x.arr == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	rc = ops->queue_next(st, a->device, 0, a->limit, x.now_ms, add_entry,
			     &x);
	if (rc < 0)
		return lb_errf(err, errlen, rc, "store: %s", strerror(-rc));
	return 0;
}

/* ---- push.message ID ------------------------------------------------------------ */

static int
c_message(struct push_srv *s, const struct args *a, cJSON *out, char *err,
	  size_t errlen)
{
	void *st;
	const struct push_store_ops *ops = push_srv_store(s, &st);
	struct push_msg m;
	struct entries x = { .now_ms = wall_ms() };
	int rc;

	if (a->id == NULL)
		return lb_errf(err, errlen, -EINVAL, "message needs an id");
	cJSON_AddStringToObject(out, "id", a->id);
	x.arr = cJSON_AddArrayToObject(out, "devices");
	if (x.arr == NULL)
		return lb_errf(err, errlen, -ENOMEM, "out of memory");
	memset(&m, 0, sizeof(m));
	rc = ops->msg_get(st, a->id, &m, a->limit, add_entry, &x);
	if (rc == -ENOENT)
		return lb_errf(err, errlen, rc, "no message %s", a->id);
	if (rc < 0)
		return lb_errf(err, errlen, rc, "store: %s", strerror(-rc));
	cJSON_AddNumberToObject(out, "created_ms", (double)m.created_ms);
	cJSON_AddNumberToObject(out, "ttl", m.ttl_s);
	cJSON_AddNumberToObject(out, "priority", m.priority);
	if (m.collapse_key != NULL && m.collapse_key[0] != '\0')
		cJSON_AddStringToObject(out, "collapse_key", m.collapse_key);
	cJSON_AddBoolToObject(out, "truncated", x.n >= a->limit);
	return 0;
}

static const struct {
	const char *cmd;
	int (*fn)(struct push_srv *s, const struct args *a, cJSON *out,
		  char *err, size_t errlen);
} cmds[] = {
	{ "push.devices", c_devices },
	{ "push.queue", c_queue },
	{ "push.message", c_message },
};

int
push_ctl_cmd(struct push_srv *s, struct nl_msg *req, struct nl_msg *reply,
	     char *err, size_t errlen)
{
	struct nlmsghdr *nlh = nlmsg_hdr(req);
	struct nlattr *tb[LB_ATTR_MAX + 1];
	struct args a;
	const char *cmd;
	cJSON *out;
	char *json = NULL;
	int rc;

	rc = lbmsg_parse(nlh, nlh->nlmsg_len, tb, err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_args(tb, &a, err, errlen);
	if (rc < 0)
		return rc;
	cmd = nla_get_string(tb[LB_ATTR_MOD_CMD]);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].cmd) != 0)
			continue;
		out = cJSON_CreateObject();
		if (out == NULL)
			return lb_errf(err, errlen, -ENOMEM, "out of memory");
		rc = cmds[i].fn(s, &a, out, err, errlen);
		if (rc == 0) {
			json = cJSON_PrintUnformatted(out);
			if (json == NULL)
				rc = lb_errf(err, errlen, -ENOMEM,
					     "out of memory");
			else if (strlen(json) > LBMSG_MOD_DATA_MAX)
				rc = lb_errf(err, errlen, -EMSGSIZE,
					     "the answer (%zu bytes) is larger "
					     "than one reply: ask for fewer "
					     "with limit",
					     strlen(json));
			else if (nla_put_string(reply, LB_ATTR_MOD_DATA, json) <
				 0)
				rc = lb_errf(err, errlen, -EMSGSIZE,
					     "reply too large");
		}
		cJSON_free(json);
		cJSON_Delete(out);
		return rc;
	}
	return lb_errf(err, errlen, -EOPNOTSUPP, "unknown push command '%s'",
		       cmd);
}
