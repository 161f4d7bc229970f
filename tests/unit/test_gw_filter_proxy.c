/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_filter through a real gateway: gw_proxy on an http_server (or two
 * http_workers threads with the argument "workers") in front of nginx,
 * driven by curl, with filters on the routes.
 *
 * Checks: an API-key route answers 401 without a key and 200 with one,
 * the backend sees the consumer in X-Consumer and never the client's
 * forged copy; a JWT route (HS256) likewise, and 401 for an expired
 * token; a rate-limited route (5 per minute per client) lets exactly 5
 * of 12 through (across both threads in "workers"), then answers 429
 * with Retry-After and the RateLimit headers, and the allowed answers
 * carry the remaining quota; a leaky bucket with delay holds requests
 * past the first for the 200 ms its rate asks, and refuses those that
 * would wait longer than max_delay_ms; a breaker on a backend that
 * starts failing (nginx answers 500 while a file is absent) opens after
 * 3 consecutive failures, then answers 503 itself in under 5 ms
 * (curl's time_total, median of 9 on one connection) without a request
 * reaching nginx (its access log does not grow), and after recovery a
 * half-open probe closes it again. Exit 77 without nginx or curl.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "gw_filter_priv.h"
#include "gw_proxy.h"

#define NGINX "/usr/sbin/nginx"
#define CURL  "/usr/bin/curl"

static char dir[64];
static pid_t nginx_pid;
static uint16_t p_a, p_gw;
static struct event_base *base;
static struct http_server *srv;
static struct gw_proxy *proxy;
static struct gw_router *router;
static pthread_t loop_th;
static struct event *stop_ev;
static struct http_workers *workers;
static bool use_workers;
static int stop_pipe[2] = { -1, -1 };
static const char hs_secret[] = "e2e-secret-e2e-secret-e2e-secret-42";

static void
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static int
run_out(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	size_t n = 0;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (n + 1 < cap) {
		size_t k = fread(out + n, 1, cap - 1 - n, f);

		if (k == 0)
			break;
		n += k;
	}
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint16_t
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool
port_up(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool up;

	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	up = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return up;
}

static void
nginx_start(void)
{
	char path[128];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/test_gw_filter_proxy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("mkdir -p %s/www %s/tmp", dir, dir);
	p_a = free_port();
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"daemon off; master_process off; worker_processes 1;\n"
		"pid %s/nginx.pid; error_log %s/error.log info;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		" client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
		" fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp;\n"
		" scgi_temp_path %s/tmp;\n"
		" server {\n"
		"  listen 127.0.0.1:%u;\n"
		"  root %s/www;\n"
		"  access_log %s/access.log;\n"
		"  location / { default_type text/plain; return 200 "
		"\"cons=$http_x_consumer|n=$http_x_consumer_count\\n\"; }\n"
		"  location = /cb/x { access_log %s/cb.log;\n"
		"   if (-f $document_root/ok) { return 200 \"up\\n\"; }\n"
		"   return 500 \"down\\n\"; }\n"
		" }\n"
		"}\n",
		dir, dir, dir, dir, dir, dir, dir, p_a, dir, dir, dir);
	ck_assert_int_eq(fclose(f), 0);
	nginx_pid = fork();
	ck_assert_int_ge(nginx_pid, 0);
	if (nginx_pid == 0) {
		char err[128];

		snprintf(err, sizeof(err), "%s/error.log", dir);
		execl(NGINX, "nginx", "-e", err, "-p", dir, "-c", path,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_up(p_a))
			return;
		usleep(50000);
	}
	sh("cat %s/error.log >&2", dir);
	ck_abort_msg("nginx did not come up");
}

static void
conf(struct gw_conf *c, const char *sec, const char *name, const char *key,
     const char *fmt, ...)
{
	char v[512], err[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	ck_assert_msg(gw_conf_key(c, sec, name, key, v, err, sizeof(err)) == 0,
		      "%s", err);
}

static void *
loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	http_server_free(srv);
	gw_proxy_free(proxy);
	event_base_loopexit(base, NULL);
}

static void
gateway_start(void)
{
	struct http_limits lim = http_default_limits;
	char err[256], hex[65], path[128];
	uint8_t h[32];
	struct lb_addr lo;
	struct gw_conf c;
	struct gw_table *t;
	FILE *f;

	SHA256((const unsigned char *)"key-of-alice", 12, h);
	gw_hex(h, 32, hex);
	snprintf(path, sizeof(path), "%s/hs.key", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(hs_secret, f);
	ck_assert_int_eq(fclose(f), 0);

	gw_conf_init(&c);
	conf(&c, "upstream", "A", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "A", "eject_after", "0");
	conf(&c, "filter", "keys", "type", "apikey");
	conf(&c, "filter", "keys", "key", "alice sha256:%s", hex);
	conf(&c, "filter", "jwt", "type", "jwt");
	conf(&c, "filter", "jwt", "key", "k1 HS256 %s", path);
	conf(&c, "filter", "jwt", "audience", "e2e");
	conf(&c, "filter", "rl", "type", "ratelimit");
	conf(&c, "filter", "rl", "rate", "5/m");
	conf(&c, "filter", "rl", "key", "client");
	conf(&c, "filter", "rl", "headers", "both");
	conf(&c, "filter", "lb", "type", "ratelimit");
	conf(&c, "filter", "lb", "algorithm", "leaky_bucket");
	conf(&c, "filter", "lb", "rate", "5/s");
	conf(&c, "filter", "lb", "burst", "5");
	conf(&c, "filter", "lb", "delay", "0");
	conf(&c, "filter", "lb", "max_delay_ms", "300");
	conf(&c, "filter", "cb", "type", "breaker");
	conf(&c, "filter", "cb", "consecutive_failures", "3");
	conf(&c, "filter", "cb", "failure_ratio", "0");
	conf(&c, "filter", "cb", "open_ms", "1000");
	conf(&c, "filter", "cb", "half_open_calls", "1");
	conf(&c, "route", "auth", "path_prefix", "/auth/");
	conf(&c, "route", "auth", "upstream", "A");
	conf(&c, "route", "auth", "filters", "keys");
	conf(&c, "route", "jwt", "path_prefix", "/jwt/");
	conf(&c, "route", "jwt", "upstream", "A");
	conf(&c, "route", "jwt", "filters", "jwt");
	conf(&c, "route", "rl", "path_prefix", "/rl/");
	conf(&c, "route", "rl", "upstream", "A");
	conf(&c, "route", "rl", "filters", "rl");
	conf(&c, "route", "lb", "path_prefix", "/lb/");
	conf(&c, "route", "lb", "upstream", "A");
	conf(&c, "route", "lb", "filters", "lb");
	conf(&c, "route", "cb", "path_prefix", "/cb/");
	conf(&c, "route", "cb", "upstream", "A");
	conf(&c, "route", "cb", "retries", "0");
	conf(&c, "route", "cb", "filters", "cb");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	gw_conf_fini(&c);
	router = gw_router_new();
	ck_assert_ptr_nonnull(router);
	gw_router_publish(router, t);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	lb_addr_parse("127.0.0.1", &lo);
	if (use_workers) {
		proxy = gw_proxy_new(NULL, router, NULL);
		ck_assert_ptr_nonnull(proxy);
		workers = http_workers_new(2, &lim, &gw_proxy_handler, proxy);
		ck_assert_ptr_nonnull(workers);
		ck_assert_int_eq(http_workers_listen(workers, &lo, 0, NULL), 0);
		p_gw = http_workers_port(workers);
		ck_assert_int_eq(http_workers_start(workers), 0);
		return;
	}
	proxy = gw_proxy_new(base, router, NULL);
	ck_assert_ptr_nonnull(proxy);
	srv = http_server_new(base, &lim, &gw_proxy_handler, proxy);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(http_server_listen(srv, &lo, 0), 0);
	p_gw = http_server_port(srv);
	ck_assert_int_eq(pipe(stop_pipe), 0);
	stop_ev = event_new(base, stop_pipe[0], EV_READ, stop_cb, NULL);
	ck_assert_int_eq(event_add(stop_ev, NULL), 0);
	ck_assert_int_eq(pthread_create(&loop_th, NULL, loop_main, NULL), 0);
}

static void
setup(void)
{
	nginx_start();
	gateway_start();
}

static void
teardown(void)
{
	if (workers != NULL) {
		http_workers_stop(workers);
		gw_proxy_free(proxy);
		http_workers_free(workers);
		workers = NULL;
		gw_router_free(router);
		event_base_free(base);
		base = NULL;
	}
	if (base != NULL) {
		ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
		pthread_join(loop_th, NULL);
		event_free(stop_ev);
		event_base_free(base);
		base = NULL;
		gw_router_free(router);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
	}
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = 0;
	}
	if (dir[0] != '\0' && getenv("KEEP") == NULL)
		sh("rm -rf %s", dir);
}

/* One request: the status; headers and body into out (curl -i), the
 * total time in ms into *ms (if not NULL). */
static int
req(const char *extra, const char *path, char *out, size_t cap, double *ms)
{
	char res[8192], *nl;
	double t;
	int rc, st;

	rc = run_out(res, sizeof(res),
		     CURL " -sS -i -m 10 --http1.1 %s -w "
			  "'\\n%%{http_code} %%{time_total}' "
			  "http://127.0.0.1:%u%s",
		     extra, p_gw, path);
	ck_assert_msg(rc == 0, "curl %s %s: exit %d", extra, path, rc);
	nl = strrchr(res, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	ck_assert_int_eq(sscanf(nl + 1, "%d %lf", &st, &t), 2);
	if (ms != NULL)
		*ms = t * 1000.0;
	if (out != NULL)
		snprintf(out, cap, "%s", res);
	return st;
}

static size_t
b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		"vwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

static void
hs_token(char *out, size_t cap, const char *sub, long exp)
{
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char pl[256], in[1024], sig64[64];
	uint8_t mac[32];
	unsigned int ml = sizeof(mac);
	size_t n;

	snprintf(pl, sizeof(pl), "{\"sub\":\"%s\",\"aud\":\"e2e\",\"exp\":%ld}",
		 sub, exp);
	n = b64url((const uint8_t *)hdr, strlen(hdr), in);
	in[n++] = '.';
	n += b64url((const uint8_t *)pl, strlen(pl), in + n);
	HMAC(EVP_sha256(), hs_secret, (int)strlen(hs_secret),
	     (unsigned char *)in, n, mac, &ml);
	b64url(mac, ml, sig64);
	ck_assert_int_lt(snprintf(out, cap, "%s.%s", in, sig64), (int)cap);
}

START_TEST(apikey_and_consumer)
{
	char out[8192];

	ck_assert_int_eq(req("", "/auth/x", out, sizeof(out), NULL), 401);
	ck_assert_msg(strstr(out, "WWW-Authenticate: ApiKey") != NULL, "%s",
		      out);
	ck_assert_msg(strstr(out, "\"reason\":\"no credentials\"") != NULL,
		      "%s", out);
	ck_assert_int_eq(
		req("-H 'X-API-Key: wrong'", "/auth/x", out, sizeof(out), NULL),
		401);
	ck_assert_msg(strstr(out, "\"reason\":\"unknown key\"") != NULL, "%s",
		      out);
	/* the forged X-Consumer goes; the gateway's one comes */
	ck_assert_int_eq(req("-H 'X-API-Key: key-of-alice' -H 'X-Consumer: "
			     "root'",
			     "/auth/x", out, sizeof(out), NULL),
			 200);
	ck_assert_msg(strstr(out, "cons=alice|") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "root") == NULL, "%s", out);
}
END_TEST

START_TEST(jwt_route)
{
	char out[8192], tok[1024], hdr[1200];

	hs_token(tok, sizeof(tok), "bob", (long)time(NULL) + 300);
	snprintf(hdr, sizeof(hdr), "-H 'Authorization: Bearer %s'", tok);
	ck_assert_int_eq(req(hdr, "/jwt/x", out, sizeof(out), NULL), 200);
	ck_assert_msg(strstr(out, "cons=bob|") != NULL, "%s", out);
	hs_token(tok, sizeof(tok), "bob", (long)time(NULL) - 300);
	snprintf(hdr, sizeof(hdr), "-H 'Authorization: Bearer %s'", tok);
	ck_assert_int_eq(req(hdr, "/jwt/x", out, sizeof(out), NULL), 401);
	ck_assert_msg(strstr(out, "\"reason\":\"token expired\"") != NULL, "%s",
		      out);
	ck_assert_int_eq(req("", "/jwt/x", out, sizeof(out), NULL), 401);
}
END_TEST

START_TEST(rate_limited)
{
	char out[8192], want[64];
	int ok = 0, limited = 0;

	/* separate connections (curl processes): with workers they land
	 * on both threads; the limit is one for both */
	for (int i = 0; i < 12; i++) {
		int st = req("", "/rl/x", out, sizeof(out), NULL);

		if (st == 200) {
			ok++;
			snprintf(want, sizeof(want),
				 "X-RateLimit-Remaining: %d", 5 - ok);
			ck_assert_msg(strstr(out, want) != NULL, "%s", out);
			ck_assert_msg(strstr(out, "RateLimit-Policy: "
						  "\"rl\";q=5;w=60") != NULL,
				      "%s", out);
		} else {
			ck_assert_int_eq(st, 429);
			limited++;
			ck_assert_msg(strstr(out, "Retry-After: ") != NULL,
				      "%s", out);
			ck_assert_msg(strstr(out, "RateLimit: \"rl\";r=0;t=") !=
					      NULL,
				      "%s", out);
			ck_assert_msg(strstr(out, "\"reason\":\"rate "
						  "limited\"") != NULL,
				      "%s", out);
		}
	}
	/* a token bucket of 5 refilled at 5 per minute: one more token
	 * would take 12 s */
	ck_assert_int_eq(ok, 5);
	ck_assert_int_eq(limited, 7);
}
END_TEST

/* curl's "CODE TIME" lines of several requests (one process) */
static int
multi(const char *flags, int n, const char *path, int *codes, double *ms)
{
	char cmd[2048], out[2048], *line, *save = NULL;
	size_t k;
	int i = 0;

	k = (size_t)snprintf(cmd, sizeof(cmd),
			     CURL " -sS -m 10 --http1.1 %s -w '%%{http_code} "
				  "%%{time_total}\\n'",
			     flags);
	for (int j = 0; j < n && k < sizeof(cmd) - 100; j++)
		k += (size_t)snprintf(cmd + k, sizeof(cmd) - k,
				      " -o /dev/null http://127.0.0.1:%u%s",
				      p_gw, path);
	ck_assert_int_eq(run_out(out, sizeof(out), "%s", cmd), 0);
	for (line = strtok_r(out, "\n", &save); line != NULL && i < n;
	     line = strtok_r(NULL, "\n", &save), i++) {
		ck_assert_int_eq(sscanf(line, "%d %lf", &codes[i], &ms[i]), 2);
		ms[i] *= 1000.0;
	}
	return i;
}

/* limit_req with burst=5 delay=0 at 5/s, waits of at most 300 ms */
START_TEST(leaky_bucket_delays)
{
	int codes[6], ok = 0, refused = 0;
	double ms[6];

	/* one after the other on one connection: each one after the first
	 * waits 200 ms (one excess, drained while the previous waited) */
	ck_assert_int_eq(multi("", 4, "/lb/seq", codes, ms), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(codes[i], 200);
		fprintf(stderr, "leaky bucket: request %d took %.1f ms\n", i,
			ms[i]);
		if (i > 0)
			ck_assert_msg(ms[i] >= 150 && ms[i] < 1000,
				      "request %d: %.1f ms", i, ms[i]);
	}
	usleep(1500 * 1000); /* the excess drains */
	/* six at once: 0 ms, 200 ms, then 400 ms would be past 300 ms:
	 * refused, not queued */
	ck_assert_int_eq(multi("-Z --parallel-immediate --parallel-max 6", 6,
			       "/lb/par", codes, ms),
			 6);
	for (int i = 0; i < 6; i++) {
		if (codes[i] == 200) {
			ok++;
			ck_assert_msg(ms[i] < 300 + 200, "%.1f ms", ms[i]);
		} else {
			ck_assert_int_eq(codes[i], 429);
			refused++;
		}
	}
	ck_assert_msg(ok >= 2 && refused >= 1, "%d passed, %d refused", ok,
		      refused);
}
END_TEST

static int
cb_log_lines(void)
{
	char out[64];

	ck_assert_int_eq(run_out(out, sizeof(out),
				 "cat %s/cb.log 2>/dev/null "
				 "| wc -l",
				 dir),
			 0);
	return atoi(out);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

START_TEST(breaker_opens_and_closes)
{
	char out[8192];
	double ms[9];
	int before, codes[9];

	sh("rm -f %s/www/ok", dir);
	/* three failures pass through (500 from nginx) */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(req("", "/cb/x", out, sizeof(out), NULL), 500);
	/* open: fail fast, nginx not asked */
	before = cb_log_lines();
	ck_assert_int_eq(before, 3);
	ck_assert_int_eq(req("", "/cb/x", out, sizeof(out), NULL), 503);
	ck_assert_msg(strstr(out, "\"reason\":\"circuit open: A\"") != NULL,
		      "%s", out);
	ck_assert_msg(strstr(out, "Retry-After: 1") != NULL, "%s", out);
	/* 9 on one kept-alive connection: each answer's own time, not the
	 * TCP handshakes of a busy machine */
	ck_assert_int_eq(multi("", 9, "/cb/x", codes, ms), 9);
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(codes[i], 503);
	qsort(ms, 9, sizeof(ms[0]), cmp_d);
	fprintf(stderr, "breaker open: fail-fast median %.3f ms, max %.3f ms\n",
		ms[4], ms[8]);
	ck_assert_msg(ms[4] < 5.0, "fail-fast median %.3f ms", ms[4]);
	ck_assert_int_eq(cb_log_lines(), before);
	/* the backend recovers; after the open time a probe closes it */
	sh("touch %s/www/ok", dir);
	usleep(1100 * 1000);
	ck_assert_int_eq(req("", "/cb/x", out, sizeof(out), NULL), 200);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(req("", "/cb/x", out, sizeof(out), NULL), 200);
	ck_assert_int_eq(cb_log_lines(), before + 4);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("gw_filter_proxy");
	TCase *e2e = tcase_create("e2e");

	tcase_add_unchecked_fixture(e2e, setup, teardown);
	tcase_set_timeout(e2e, 120);
	tcase_add_test(e2e, apikey_and_consumer);
	tcase_add_test(e2e, jwt_route);
	tcase_add_test(e2e, rate_limited);
	tcase_add_test(e2e, leaky_bucket_delays);
	tcase_add_test(e2e, breaker_opens_and_closes);
	suite_add_tcase(s, e2e);
	return s;
}

int
main(int argc, char **argv)
{
	SRunner *sr;
	int nf;

	if (access(NGINX, X_OK) != 0 || access(CURL, X_OK) != 0) {
		fprintf(stderr, "skip: needs nginx and curl\n");
		return 77;
	}
	use_workers = argc > 1 && strcmp(argv[1], "workers") == 0;
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
