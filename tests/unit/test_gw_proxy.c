/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gw_proxy: a real gateway in front of real backends, driven by real curl.
 *
 * The gateway (controlplane/gateway: gw_proxy on an http_server, a plain
 * listener for HTTP/1.1 and h2c and a TLS one with a certificate made by
 * `openssl req` at test time) runs on its own loop thread of this
 * process. The backends: nginx (two server blocks, A and B, on 127.0.0.1
 * ports), a port where nothing listens (connect refused) and a listener
 * that never accepts (the request is sent, no answer comes). curl speaks
 * HTTP/1.1, h2c (prior knowledge) and HTTP/2 over TLS.
 *
 * Checks: the forwarding headers the backend sees, hop-by-hop headers
 * stripped, Via on the answer, redirect and direct answers, 404 without a
 * route, 502 when the backend is down, 504 when it never answers, a GET
 * retried after a connect failure but not a POST, retry_on statuses, the
 * retry budget (nginx's echo module for a slow answer), ejection after
 * N 5xx, HTTP/1.0 without Host, 16 MiB up and down intact (sha256) on
 * every protocol. Exit 77 without
 * nginx or curl. Runs without fork (the gateway thread is shared). With
 * the argument "workers" the gateway runs on http_workers (2 threads,
 * one gw_proxy) instead of one loop of its own.
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

#include "gw_proxy.h"

#define NGINX	 "/usr/sbin/nginx"
#define ECHO_MOD "/usr/lib/nginx/modules/ngx_http_echo_module.so"
#define CURL	 "/usr/bin/curl"
#define BIG	 (16u * 1024 * 1024)

static char dir[64];
static pid_t nginx_pid;
static uint16_t p_a, p_b, p_c, p_dead, p_stall, p_gw, p_gws;
static int stall_fd = -1;
static struct event_base *base;
static struct http_server *srv;
static struct gw_proxy *proxy;
static struct gw_router *router;
static pthread_t loop_th;
static struct event *stop_ev;
static struct http_workers *workers; /* run "workers": 2 threads */
static bool use_workers;
static int stop_pipe[2] = { -1, -1 };
/* an HTTP/2 (h2c) upstream of our own stack, on its own loop thread: it
 * counts the request body and echoes the request's trailers */
static struct event_base *up_base;
static struct http_server *up_srv;
static pthread_t up_th;
static int up_pipe[2] = { -1, -1 };
static struct event *up_stop_ev;
static uint16_t p_h2up;

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

/* Run a command, its stdout into out (NUL-terminated). Its exit status. */
static int
run_out(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[2048];
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

static int
listener(uint16_t *port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static uint16_t
free_port(void)
{
	uint16_t port;
	int fd = listener(&port, 1);

	close(fd);
	return port;
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

	snprintf(dir, sizeof(dir), "/tmp/test_gw_proxy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	sh("mkdir -p %s/www/up %s/tmp", dir, dir);
	sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
	   "/CN=localhost -addext subjectAltName=DNS:localhost "
	   "-keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
	   dir, dir);
	sh("head -c %u /dev/urandom > %s/www/big", BIG, dir);
	p_a = free_port();
	p_b = free_port();
	p_c = free_port();
	snprintf(path, sizeof(path), "%s/nginx.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"%s\n"
		"daemon off; master_process off; worker_processes 1;\n"
		"pid %s/nginx.pid; error_log %s/error.log info;\n"
		"events { worker_connections 256; }\n"
		"http {\n"
		" access_log %s/access.log;\n"
		" log_format conn '$connection';\n"
		" client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
		" fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp;\n"
		" scgi_temp_path %s/tmp;\n"
		" server {\n"
		"  listen 127.0.0.1:%u;\n"
		"  root %s/www;\n"
		"  location = /echo { default_type text/plain; return 200 "
		"\"be=A|xff=$http_x_forwarded_for|xfp=$http_x_forwarded_proto"
		"|xfh=$http_x_forwarded_host|fwd=$http_forwarded|via=$http_via"
		"|conn=$http_connection|ka=$http_keep_alive|te=$http_te"
		"|drop=$http_x_drop|pa=$http_proxy_authorization"
		"|up=$http_upgrade|keep=$http_x_keep|host=$host"
		"|uri=$request_uri|set=$http_x_set\\n\"; }\n"
		"  location /flaky { return 200 \"A\\n\"; }\n"
		"  location /retry { return 200 \"A\\n\"; }\n"
		"  location /slow { %s }\n"
		"  location /up/ { dav_methods PUT; client_max_body_size 64m; "
		"}\n"
		" }\n"
		" server {\n"
		"  listen 127.0.0.1:%u;\n"
		"  location /flaky { return 503 \"B\\n\"; }\n"
		"  location /up/ { return 444; }\n" /* closes, no answer */
		" }\n"
		" server {\n" /* the pool's: one log line per connection */
		"  listen 127.0.0.1:%u;\n"
		"  location = /pool { access_log %s/pool.log conn; %s }\n"
		" }\n"
		"}\n",
		access(ECHO_MOD, R_OK) == 0 ? "load_module " ECHO_MOD ";" : "",
		dir, dir, dir, dir, dir, dir, dir, dir, p_a, dir,
		access(ECHO_MOD, R_OK) == 0 ? "echo_sleep 1; echo slow;"
					    : "return 500;",
		p_b, p_c, dir,
		access(ECHO_MOD, R_OK) == 0 ? "echo_sleep 0.3; echo pool;"
					    : "return 500;");
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
		if (port_up(p_a) && port_up(p_b) && port_up(p_c))
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
	char v[256], err[256];
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

/* the body bytes of the request in flight (the test sends one at a time) */
static size_t h2up_got;

static int
h2up_body(void *arg, struct http_req *r, const char *p, size_t n)
{
	(void)arg;
	(void)r;
	(void)p;
	h2up_got += n;
	return 0;
}

static void
h2up_request(void *arg, struct http_req *r)
{
	const struct http_msg *m = http_req_msg(r);
	const char *te = http_msg_header(m, "te");
	struct http_header out[HTTP_MAX_HEADERS];
	char names[HTTP_MAX_HEADERS][80], body[128];
	const struct http_header *tr;
	size_t n, k = 0;

	(void)arg;
	tr = http_req_trailers(r, &n);
	for (size_t i = 0; i < n && k < HTTP_MAX_HEADERS - 1; i++, k++) {
		snprintf(names[k], sizeof(names[k]), "x-echo-%s", tr[i].name);
		out[k].name = names[k];
		out[k].value = tr[i].value;
	}
	out[k++] = (struct http_header){ "grpc-status", "0" };
	snprintf(body, sizeof(body), "%s n=%zu te=%s\n", http_req_proto(r),
		 h2up_got, te != NULL ? te : "none");
	h2up_got = 0;
	http_resp_start(r, 200, NULL, 0, -1);
	http_resp_write(r, body, strlen(body));
	http_resp_end_trailers(r, out, k);
}

static const struct http_handler h2up_handler = {
	.on_request = h2up_request,
	.on_body = h2up_body,
};

static void
h2up_stop(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	event_base_loopexit(up_base, NULL);
}

static void *
h2up_main(void *arg)
{
	(void)arg;
	event_base_dispatch(up_base);
	return NULL;
}

static void
h2up_start(void)
{
	struct lb_addr lo;

	up_base = event_base_new();
	ck_assert_ptr_nonnull(up_base);
	up_srv = http_server_new(up_base, NULL, &h2up_handler, NULL);
	ck_assert_ptr_nonnull(up_srv);
	lb_addr_parse("127.0.0.1", &lo);
	ck_assert_int_eq(http_server_listen(up_srv, &lo, 0), 0);
	p_h2up = http_server_port(up_srv);
	ck_assert_int_eq(pipe(up_pipe), 0);
	up_stop_ev = event_new(up_base, up_pipe[0], EV_READ, h2up_stop, NULL);
	ck_assert_int_eq(event_add(up_stop_ev, NULL), 0);
	ck_assert_int_eq(pthread_create(&up_th, NULL, h2up_main, NULL), 0);
}

static void
h2up_free(void)
{
	if (up_base == NULL)
		return;
	ck_assert_int_eq(write(up_pipe[1], "x", 1), 1);
	pthread_join(up_th, NULL);
	http_server_free(up_srv);
	event_free(up_stop_ev);
	event_base_free(up_base);
	up_base = NULL;
	close(up_pipe[0]);
	close(up_pipe[1]);
}

static void
gateway_start(void)
{
	struct http_limits lim = http_default_limits;
	struct http_tls_cert cert = { NULL, NULL, NULL };
	struct http_tls tls = { &cert, 1 };
	char cpath[128], kpath[128], err[256];
	struct lb_addr lo;
	struct gw_conf c;
	struct gw_table *t;

	p_dead = free_port();
	stall_fd = listener(&p_stall, 64); /* never accepts */
	h2up_start();
	gw_conf_init(&c);
	conf(&c, "upstream", "h2up", "instance", "127.0.0.1:%u", p_h2up);
	conf(&c, "upstream", "h2up", "proto", "h2c");
	conf(&c, "upstream", "h2down", "instance", "127.0.0.1:%u", p_dead);
	conf(&c, "upstream", "h2down", "proto", "h2c");
	conf(&c, "route", "h2up", "path", "/h2up");
	conf(&c, "route", "h2up", "upstream", "h2up");
	conf(&c, "route", "h2down", "path", "/h2down");
	conf(&c, "route", "h2down", "upstream", "h2down");
	conf(&c, "route", "h2down", "retries", "0");
	conf(&c, "upstream", "A", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "down", "instance", "127.0.0.1:%u", p_dead);
	conf(&c, "upstream", "stall", "instance", "127.0.0.1:%u", p_stall);
	conf(&c, "upstream", "half", "instance", "127.0.0.1:%u", p_dead);
	conf(&c, "upstream", "half", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "half", "eject_after", "0");
	conf(&c, "upstream", "fl", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "fl", "instance", "127.0.0.1:%u", p_b);
	conf(&c, "upstream", "fl", "eject_after", "3");
	conf(&c, "upstream", "fl", "eject_base_ms", "60000");
	conf(&c, "upstream", "fl2", "instance", "127.0.0.1:%u", p_b);
	conf(&c, "upstream", "fl2", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "fl2", "eject_after", "0");
	conf(&c, "upstream", "one", "instance", "127.0.0.1:%u", p_b);
	conf(&c, "route", "flaky_retry", "header", "X-Retry");
	conf(&c, "route", "flaky_retry", "upstream", "fl2");
	conf(&c, "route", "flaky_retry", "retry_on", "502,503");
	conf(&c, "route", "flaky_one", "header", "X-One");
	conf(&c, "route", "flaky_one", "upstream", "one");
	conf(&c, "route", "flaky_one", "retry_on", "503");
	conf(&c, "upstream", "bud", "instance", "127.0.0.1:%u", p_stall);
	conf(&c, "upstream", "bud", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "bud", "eject_after", "0");
	conf(&c, "route", "budget", "path", "/slow");
	conf(&c, "route", "budget", "upstream", "bud");
	conf(&c, "route", "budget", "request_timeout_ms", "1500");
	conf(&c, "route", "budget", "retry_budget_pct", "10");
	conf(&c, "route", "echo", "path", "/echo");
	conf(&c, "route", "echo", "upstream", "A");
	conf(&c, "route", "echo", "request_header_set", "X-Set: by-route");
	conf(&c, "route", "echo", "response_header_add", "X-Gw: 1");
	conf(&c, "route", "api", "path_prefix", "/api/");
	conf(&c, "route", "api", "rewrite_prefix", "/");
	conf(&c, "route", "api", "upstream", "A");
	conf(&c, "route", "down", "path", "/down");
	conf(&c, "route", "down", "upstream", "down");
	conf(&c, "route", "stall", "path", "/stall");
	conf(&c, "route", "stall", "upstream", "stall");
	conf(&c, "route", "stall", "request_timeout_ms", "700");
	/* a POST with a body, retried past the dead instance */
	conf(&c, "route", "rpost", "header", "X-Post");
	conf(&c, "route", "rpost", "path", "/retry");
	conf(&c, "route", "rpost", "upstream", "half");
	conf(&c, "route", "rpost", "retry_non_idempotent", "yes");
	conf(&c, "route", "retry", "path", "/retry");
	conf(&c, "route", "retry", "upstream", "half");
	conf(&c, "route", "flaky", "path", "/flaky");
	conf(&c, "route", "flaky", "upstream", "fl");
	conf(&c, "route", "flaky", "retries", "0");
	conf(&c, "route", "old", "path", "/old");
	conf(&c, "route", "old", "redirect", "308 /echo");
	conf(&c, "route", "hi", "path", "/hi");
	conf(&c, "route", "hi", "direct", "200 hello");
	/* PUT bodies over (B: closes without an answer, A: stores) */
	conf(&c, "upstream", "rb", "instance", "127.0.0.1:%u", p_b);
	conf(&c, "upstream", "rb", "instance", "127.0.0.1:%u", p_a);
	conf(&c, "upstream", "rb", "eject_after", "0");
	conf(&c, "route", "rbsmall", "header", "X-Small");
	conf(&c, "route", "rbsmall", "path_prefix", "/up/rb");
	conf(&c, "route", "rbsmall", "upstream", "rb");
	conf(&c, "route", "rbsmall", "retry_body_max", "1024");
	conf(&c, "route", "rbody", "path_prefix", "/up/rb");
	conf(&c, "route", "rbody", "upstream", "rb");
	/* a pool of at most 3 connections, 1 kept idle */
	conf(&c, "upstream", "pool", "instance", "127.0.0.1:%u", p_c);
	conf(&c, "upstream", "pool", "max_conns", "3");
	conf(&c, "upstream", "pool", "max_idle_conns", "1");
	conf(&c, "route", "pool", "path", "/pool");
	conf(&c, "route", "pool", "upstream", "pool");
	conf(&c, "route", "hij", "path", "/hij");
	conf(&c, "route", "hij", "direct", "200 {\"a\":1}");
	conf(&c, "route", "hij", "content_type", "application/json");
	conf(&c, "route", "files", "path_prefix", "/");
	conf(&c, "route", "files", "method", "GET,PUT,HEAD");
	conf(&c, "route", "files", "upstream", "A");
	t = gw_table_build(&c, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s", err);
	gw_conf_fini(&c);
	router = gw_router_new();
	ck_assert_ptr_nonnull(router);
	gw_router_publish(router, t);

	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	lim.max_body_bytes = 64u * 1024 * 1024;
	lb_addr_parse("127.0.0.1", &lo);
	snprintf(cpath, sizeof(cpath), "%s/cert.pem", dir);
	snprintf(kpath, sizeof(kpath), "%s/key.pem", dir);
	cert.cert = cpath;
	cert.key = kpath;
	if (use_workers) {
		/* one proxy for both threads; each loop found per request */
		proxy = gw_proxy_new(NULL, router, NULL);
		ck_assert_ptr_nonnull(proxy);
		workers = http_workers_new(2, &lim, &gw_proxy_handler, proxy);
		ck_assert_ptr_nonnull(workers);
		ck_assert_int_eq(http_workers_listen(workers, &lo, 0, NULL), 0);
		p_gw = http_workers_port(workers);
		p_gws = free_port();
		ck_assert_int_eq(http_workers_listen(workers, &lo, p_gws, &tls),
				 0);
		ck_assert_int_eq(http_workers_start(workers), 0);
		return;
	}
	proxy = gw_proxy_new(base, router, NULL);
	ck_assert_ptr_nonnull(proxy);
	srv = http_server_new(base, &lim, &gw_proxy_handler, proxy);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(http_server_listen(srv, &lo, 0), 0);
	p_gw = http_server_port(srv);
	p_gws = free_port();
	ck_assert_int_eq(http_server_listen_tls(srv, &lo, p_gws, &tls), 0);
	/* the loop thread stops itself when the pipe becomes readable */
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
		/* the threads stop; the proxy's clients go while their
		 * bases still exist */
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
	h2up_free();
	if (stall_fd >= 0)
		close(stall_fd);
	if (nginx_pid > 0) {
		kill(nginx_pid, SIGTERM);
		waitpid(nginx_pid, NULL, 0);
		nginx_pid = 0;
	}
	if (dir[0] != '\0' && getenv("KEEP") == NULL)
		sh("rm -rf %s", dir);
}

/* curl flags and URL base per protocol */
static const char *const protos[3] = { "h1", "h2c", "h2tls" };

static void
url(char *buf, size_t n, int proto, const char *path)
{
	if (proto == 2)
		snprintf(buf, n, "--http2 -k https://localhost:%u%s", p_gws,
			 path);
	else
		snprintf(buf, n, "%s http://127.0.0.1:%u%s",
			 proto == 1 ? "--http2-prior-knowledge" : "--http1.1",
			 p_gw, path);
}

/* GET (or another method) through the gateway: status; body into out. */
static int
req(int proto, const char *extra, const char *path, char *out, size_t cap)
{
	char u[256], res[8192], *nl;
	int rc;

	url(u, sizeof(u), proto, path);
	rc = run_out(res, sizeof(res),
		     CURL " -sS -m 10 %s -w '\\n%%{http_code}' %s", extra, u);
	ck_assert_msg(rc == 0, "curl %s %s: exit %d", extra, u, rc);
	nl = strrchr(res, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	if (out != NULL) {
		size_t n = strlen(res) < cap - 1 ? strlen(res) : cap - 1;

		memcpy(out, res, n);
		out[n] = '\0';
	}
	return atoi(nl + 1);
}

static struct gw_table *
table(void)
{
	struct gw_table *t = gw_router_get(router);

	gw_table_put(t); /* the router keeps it */
	return t;
}

static struct gw_route_stats
route_st(const char *name)
{
	struct gw_table *t = table();
	struct gw_route_stats s = { 0 };

	for (size_t i = 0; i < gw_table_nroutes(t); i++) {
		struct gw_route *r = gw_table_route(t, i);

		if (strcmp(r->conf->name, name) == 0)
			memcpy(&s, &r->st, sizeof(s)); /* counters: settled */
	}
	return s;
}

START_TEST(forwarding_headers)
{
	char body[4096], want[256];

	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(req(p, "-H 'X-Forwarded-For: 10.9.9.9'",
				     "/echo", body, sizeof(body)),
				 200);
		ck_assert_msg(strstr(body, "xff=10.9.9.9, 127.0.0.1|") != NULL,
			      "%s: %s", protos[p], body);
		snprintf(want, sizeof(want), "|xfp=%s|",
			 p == 2 ? "https" : "http");
		ck_assert_msg(strstr(body, want) != NULL, "%s: %s", protos[p],
			      body);
		snprintf(want, sizeof(want),
			 "|fwd=for=\"127.0.0.1\";proto=%s;host=\"%s:%u\"|",
			 p == 2 ? "https" : "http",
			 p == 2 ? "localhost" : "127.0.0.1",
			 p == 2 ? p_gws : p_gw);
		ck_assert_msg(strstr(body, want) != NULL, "%s: %s want %s",
			      protos[p], body, want);
		snprintf(want, sizeof(want), "|via=%s edgelb|",
			 p == 0 ? "1.1" : "2");
		ck_assert_msg(strstr(body, want) != NULL, "%s: %s", protos[p],
			      body);
		/* the Host goes upstream unchanged, X-Forwarded-Host too */
		snprintf(want, sizeof(want), "|xfh=%s:%u|",
			 p == 2 ? "localhost" : "127.0.0.1",
			 p == 2 ? p_gws : p_gw);
		ck_assert_msg(strstr(body, want) != NULL, "%s: %s", protos[p],
			      body);
		ck_assert_msg(strstr(body, "|set=by-route") != NULL, "%s",
			      body);
	}
}
END_TEST

START_TEST(hop_by_hop_stripped)
{
	char body[4096], hdrs[4096], u[256];

	ck_assert_int_eq(req(0,
			     "-H 'Connection: keep-alive, X-Drop' "
			     "-H 'X-Drop: 1' -H 'X-Keep: 2' "
			     "-H 'Keep-Alive: timeout=5' -H 'TE: trailers' "
			     "-H 'Proxy-Authorization: Basic eA==' "
			     "-H 'Upgrade: foo'",
			     "/echo", body, sizeof(body)),
			 200);
	/* nginx's own Connection to us is the client's business only */
	ck_assert_msg(strstr(body, "|drop=|") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "|ka=|te=|") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "|pa=|up=|keep=2|") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "|conn=|") != NULL ||
			      strstr(body, "|conn=keep-alive|") != NULL,
		      "%s", body);
	/* HTTP/1.0 without Host: the instance's address goes upstream */
	ck_assert_int_eq(
		run_out(body, sizeof(body),
			"python3 -c 'import socket; s = "
			"socket.create_connection("
			"(\"127.0.0.1\", %u)); s.sendall(b\"GET /echo "
			"HTTP/1.0\\r\\n\\r\\n\"); print(s.makefile(\"rb\")"
			".read().decode())'",
			p_gw),
		0);
	ck_assert_msg(strstr(body, " 200 ") != NULL &&
			      strstr(body, "|host=127.0.0.1|") != NULL,
		      "%s", body);
	/* the answer: Via and the route's header; no upstream Connection */
	url(u, sizeof(u), 0, "/echo");
	ck_assert_int_eq(run_out(hdrs, sizeof(hdrs),
				 CURL " -sS -m 10 -o /dev/null -D - %s", u),
			 0);
	ck_assert_msg(strstr(hdrs, "Via: 1.1 edgelb\r\n") != NULL ||
			      strstr(hdrs, "via: 1.1 edgelb\r\n") != NULL,
		      "%s", hdrs);
	ck_assert_msg(strcasestr(hdrs, "X-Gw: 1\r\n") != NULL, "%s", hdrs);
}
END_TEST

START_TEST(own_answers)
{
	char body[4096], u[256];

	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(req(p, "", "/hi", body, sizeof(body)), 200);
		ck_assert_str_eq(body, "hello");
		ck_assert_int_eq(
			req(p, "-X DELETE", "/nothing", body, sizeof(body)),
			404);
		ck_assert_str_eq(body,
				 "{\"error\":\"no route\",\"route\":null}\n");
		ck_assert_int_eq(req(p, "-o /dev/null -w '%{redirect_url}'",
				     "/old", body, sizeof(body)),
				 308);
		/* direct answers: text/plain, or the route's content_type */
		url(u, sizeof(u), p, "/hi");
		ck_assert_int_eq(run_out(body, sizeof(body),
					 CURL " -sS -m 10 -o /dev/null -w "
					      "'%%{content_type}' %s",
					 u),
				 0);
		ck_assert_str_eq(body, "text/plain");
		url(u, sizeof(u), p, "/hij");
		ck_assert_int_eq(run_out(body, sizeof(body),
					 CURL " -sS -m 10 -D - %s", u),
				 0);
		ck_assert_msg(strcasestr(body,
					 "\ncontent-type: "
					 "application/json\r\n") != NULL &&
				      strstr(body, "\r\n\r\n{\"a\":1}") != NULL,
			      "%s: %s", protos[p], body);
		/* the rewrite: /api/echo goes upstream as /echo */
		ck_assert_int_eq(
			req(p, "", "/api/echo?x=1", body, sizeof(body)), 200);
		ck_assert_msg(strstr(body, "|uri=/echo?x=1|") != NULL, "%s",
			      body);
	}
}
END_TEST

START_TEST(down_502_stall_504)
{
	char body[4096];
	struct timespec a, b;
	double dt;

	for (int p = 0; p < 3; p++) {
		ck_assert_int_eq(req(p, "", "/down", body, sizeof(body)), 502);
		ck_assert_str_eq(body, "{\"error\":\"upstream connect failed "
				       "or reset\",\"route\":\"down\"}\n");
		clock_gettime(CLOCK_MONOTONIC, &a);
		ck_assert_int_eq(req(p, "", "/stall", body, sizeof(body)), 504);
		clock_gettime(CLOCK_MONOTONIC, &b);
		dt = (double)(b.tv_sec - a.tv_sec) +
		     (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		ck_assert_str_eq(body, "{\"error\":\"upstream timeout\","
				       "\"route\":\"stall\"}\n");
		/* the route's 700 ms, not the client's default 30 s */
		ck_assert_msg(dt >= 0.6 && dt < 5, "504 after %.2f s", dt);
	}
	ck_assert_uint_ge(route_st("down").connect_errors, 3);
	ck_assert_uint_ge(route_st("stall").timeouts, 3);
}
END_TEST

START_TEST(retry_get_not_post)
{
	char body[256];
	uint64_t r0 = route_st("retry").retries;
	int n502 = 0;

	/* rr over (dead, A): every GET that meets the dead one is retried */
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(req(i % 3, "", "/retry", body, sizeof(body)),
				 200);
		ck_assert_str_eq(body, "A\n");
	}
	ck_assert_uint_ge(route_st("retry").retries - r0, 3);
	r0 = route_st("retry").retries;
	for (int i = 0; i < 6; i++) {
		int st = req(i % 3, "-X POST -d ''", "/retry", body,
			     sizeof(body));

		ck_assert_msg(st == 200 || st == 502, "POST: %d", st);
		n502 += st == 502;
	}
	ck_assert_int_ge(n502, 1); /* never retried: the dead one shows */
	ck_assert_uint_eq(route_st("retry").retries, r0);
}
END_TEST

/*
 * Bodies retried: PUTs of 48 KiB over (B, A) with rr, where B reads the
 * head and closes without an answer (nginx's 444): every PUT that met B
 * first is sent again to A with the body kept while it streamed, and A
 * stores exactly what the client sent (sha256), on every client
 * protocol and chunked. With retry_body_max below the body the copy is
 * not kept: such a PUT that met B is answered 502 and counted in
 * retries_skipped_body. A POST with a body on a route that allows it is
 * retried past the dead instance.
 */
START_TEST(retry_with_body)
{
	char out[512], want[128], u[256], path[64];
	struct gw_proxy_stats s0 = *gw_proxy_stats(proxy), s1;
	uint64_t r0;
	int n502 = 0, n2xx = 0;

	sh("head -c 49152 /dev/urandom > %s/rb48", dir);
	ck_assert_int_eq(run_out(want, sizeof(want),
				 "sha256sum < %s/rb48 | cut -c1-64", dir),
			 0);
	for (int i = 0; i < 6; i++) {
		int p = i % 3;

		snprintf(path, sizeof(path), "/up/rbf%d", i);
		url(u, sizeof(u), p, path);
		ck_assert_int_eq(
			run_out(out, sizeof(out),
				CURL " -sS -m 20 -o /dev/null -w "
				     "'%%{http_code}' %s -T %s/rb48 %s",
				i == 3 ? "-H 'Transfer-Encoding: chunked'" : "",
				dir, u),
			0);
		ck_assert_msg(strcmp(out, "201") == 0 ||
				      strcmp(out, "204") == 0,
			      "PUT %d (%s): %s", i, protos[p], out);
		ck_assert_int_eq(run_out(out, sizeof(out),
					 "sha256sum < %s/www/up/rbf%d | cut "
					 "-c1-64",
					 dir, i),
				 0);
		ck_assert_msg(strcmp(out, want) == 0, "PUT %d (%s) stored %s",
			      i, protos[p], out);
	}
	s1 = *gw_proxy_stats(proxy);
	/* rr over (B, A): at least every other PUT met B first */
	ck_assert_uint_ge(s1.retries_body - s0.retries_body, 3);
	ck_assert_uint_ge(s1.retry_bodies - s0.retry_bodies, 6);
	ck_assert_uint_eq(s1.retries_skipped_body, s0.retries_skipped_body);
	/* every copy went with its request's answer */
	ck_assert_uint_eq(s1.retry_body_bytes, 0);

	/* over retry_body_max: streamed without a copy, never retried */
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/up/rbs%d", i);
		url(u, sizeof(u), i % 3, path);
		ck_assert_int_eq(run_out(out, sizeof(out),
					 CURL " -sS -m 20 -o /dev/null -w "
					      "'%%{http_code}' -H 'X-Small: 1' "
					      "-T %s/rb48 %s",
					 dir, u),
				 0);
		n502 += strcmp(out, "502") == 0;
		n2xx += strcmp(out, "201") == 0 || strcmp(out, "204") == 0;
	}
	s0 = s1;
	s1 = *gw_proxy_stats(proxy);
	ck_assert_int_eq(n502 + n2xx, 4);
	ck_assert_int_ge(n502, 1);
	ck_assert_uint_eq(s1.retries_skipped_body - s0.retries_skipped_body,
			  (uint64_t)n502);
	ck_assert_uint_eq(s1.retries_body, s0.retries_body);

	/* POST with retry_non_idempotent: past the dead instance to A */
	r0 = route_st("rpost").retries;
	for (int i = 0; i < 6; i++) {
		char body[256], extra[128];

		snprintf(extra, sizeof(extra),
			 "-H 'X-Post: 1' --data-binary @%s/rb48", dir);
		ck_assert_int_eq(
			req(i % 3, extra, "/retry", body, sizeof(body)), 200);
		ck_assert_str_eq(body, "A\n");
	}
	ck_assert_uint_ge(route_st("rpost").retries - r0, 3);
	ck_assert_uint_eq(gw_proxy_stats(proxy)->retry_body_bytes, 0);
}
END_TEST

/*
 * The upstream pool keys: 10 requests at once that each take 0.3 s on
 * an upstream with max_conns 3 and max_idle_conns 1. The backend logs
 * its connection number per request: at most 3 connections per event
 * loop; afterwards the gateway keeps at most 1 per loop open (ss).
 */
START_TEST(pool_limits)
{
	int loops = use_workers ? 2 : 1, n200 = 0, nconns, nopen = -1;
	char out[512], u[256];

	ck_assert_msg(access(ECHO_MOD, R_OK) == 0, "needs %s", ECHO_MOD);
	url(u, sizeof(u), 0, "/pool");
	ck_assert_int_eq(run_out(out, sizeof(out),
				 "for i in 1 2 3 4 5 6 7 8 9 10; do " CURL
				 " -s -m 20 -o /dev/null -w '%%{http_code}\\n' "
				 "%s & done; wait",
				 u),
			 0);
	for (char *p = out; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		n200 += strncmp(p, "200", 3) == 0;
	}
	ck_assert_msg(n200 == 10, "codes: %s", out);
	ck_assert_int_eq(
		run_out(out, sizeof(out), "sort -u %s/pool.log | wc -l", dir),
		0);
	nconns = atoi(out);
	ck_assert_msg(nconns >= 2 && nconns <= 3 * loops,
		      "%d backend connections for 10 requests", nconns);
	/* the idle ones over max_idle_conns close when the burst ends */
	for (int i = 0; i < 30 && nopen != 1 * loops; i++) {
		if (i > 0)
			usleep(100000);
		ck_assert_int_eq(run_out(out, sizeof(out),
					 "ss -Htn state established dst "
					 "127.0.0.1:%u | wc -l",
					 p_c),
				 0);
		nopen = atoi(out);
		if (nopen < 1 * loops)
			break;
	}
	ck_assert_msg(nopen >= 1 && nopen <= loops,
		      "%d connections kept open to the pool's backend", nopen);
}
END_TEST

START_TEST(eject_after_5xx)
{
	char body[256];
	int n503 = 0, tail503 = 0;
	struct gw_upstream_stats us;

	for (int i = 0; i < 20; i++) {
		int st = req(i % 3, "", "/flaky", body, sizeof(body));

		ck_assert_msg(st == 200 || st == 503, "%d", st);
		n503 += st == 503;
		if (i >= 10)
			tail503 += st == 503;
	}
	/* B answered 503 three times, then was ejected for 60 s */
	ck_assert_int_eq(n503, 3);
	ck_assert_int_eq(tail503, 0);
	gw_upstream_stats_read(gw_table_upstream_by_name(table(), "fl"), &us);
	ck_assert_uint_eq(us.ejections, 1);
	ck_assert_uint_eq(us.resp_5xx, 3);
}
END_TEST

START_TEST(retry_on_5xx)
{
	char body[256];
	uint64_t r0 = route_st("flaky_retry").retries;

	/* rr over (B: 503, A: 200), retry_on 503: every GET ends 200 */
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(req(i % 3, "-H 'X-Retry: 1'", "/flaky", body,
				     sizeof(body)),
				 200);
		ck_assert_str_eq(body, "A\n");
	}
	ck_assert_uint_ge(route_st("flaky_retry").retries - r0, 3);
	/* no other instance: the 503 passes through, body and all */
	ck_assert_int_eq(req(0, "-H 'X-One: 1'", "/flaky", body, sizeof(body)),
			 503);
	ck_assert_str_eq(body, "B\n");
}
END_TEST

/*
 * The retry budget: 10 GETs at once over (stall, slow A). Those on the
 * stalled instance time out after 1.5 s within a second of each other,
 * while the first retry holds the budget for A's 1 s answer: 10 % of ~5
 * active requests is below one, so one retry at a time (the floor) and the
 * others are refused and answered 504.
 */
START_TEST(retry_budget)
{
	char out[256], u[256];
	int n200 = 0, n504 = 0;
	struct gw_route_stats s;

	ck_assert_msg(access(ECHO_MOD, R_OK) == 0, "needs %s", ECHO_MOD);
	url(u, sizeof(u), 0, "/slow");
	ck_assert_int_eq(run_out(out, sizeof(out),
				 "for i in 1 2 3 4 5 6 7 8 9 10; do " CURL
				 " -s -m 10 -o /dev/null -w '%%{http_code}\\n' "
				 "%s & done; wait",
				 u),
			 0);
	for (char *p = out; *p != '\0'; p++) {
		n200 += strncmp(p, "200", 3) == 0;
		n504 += strncmp(p, "504", 3) == 0;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
	}
	s = route_st("budget");
	ck_assert_msg(n200 + n504 == 10, "codes: %s", out);
	ck_assert_uint_ge(s.retries, 1);
	ck_assert_uint_ge(s.retries_refused, 1);
	ck_assert_int_eq(n504, (int)s.retries_refused);
	ck_assert_int_eq(n200, 10 - n504);
}
END_TEST

START_TEST(big_bodies_intact)
{
	char out[512], want[128], u[256];

	ck_assert_int_eq(run_out(want, sizeof(want),
				 "sha256sum < %s/www/big | cut -c1-64", dir),
			 0);
	for (int p = 0; p < 3; p++) {
		char path[64];

		/* down: the gateway streams nginx's file */
		url(u, sizeof(u), p, "/big");
		ck_assert_int_eq(run_out(out, sizeof(out),
					 CURL " -sS -m 60 %s | sha256sum | "
					      "cut -c1-64",
					 u),
				 0);
		ck_assert_msg(strcmp(out, want) == 0, "%s down: %s", protos[p],
			      out);
		/* up: PUT through the gateway, nginx stores it */
		snprintf(path, sizeof(path), "/up/f%d", p);
		url(u, sizeof(u), p, path);
		ck_assert_int_eq(run_out(out, sizeof(out),
					 CURL
					 " -sS -m 60 -o /dev/null -w "
					 "'%%{http_code}' -T %s/www/big %s",
					 dir, u),
				 0);
		ck_assert_msg(strcmp(out, "201") == 0 ||
				      strcmp(out, "204") == 0,
			      "%s PUT: %s", protos[p], out);
		ck_assert_int_eq(run_out(out, sizeof(out),
					 "sha256sum < %s/www/up/f%d | cut "
					 "-c1-64",
					 dir, p),
				 0);
		ck_assert_msg(strcmp(out, want) == 0, "%s up: %s", protos[p],
			      out);
	}
	/*
	 * Streamed, not buffered: a client that reads at 8 MB/s falls
	 * behind nginx, so the gateway must hold response pieces (whatever
	 * the speed of the build, sanitizers included).
	 */
	url(u, sizeof(u), 0, "/big");
	ck_assert_int_eq(run_out(out, sizeof(out),
				 CURL " -sS -m 60 --limit-rate 8M %s | "
				      "sha256sum | cut -c1-64",
				 u),
			 0);
	ck_assert_msg(strcmp(out, want) == 0, "slow reader: %s", out);
	ck_assert_uint_gt(gw_proxy_stats(proxy)->resp_held, 0);
}
END_TEST

/* Clients on HTTP/1.1, h2c and h2 over TLS to an h2c upstream, bodies
 * both ways; trailers both ways with an HTTP/2 client (nghttp), dropped
 * toward an HTTP/1.1 one; te: trailers kept. */
START_TEST(h2_upstream_trailers)
{
	char out[16384], u[256], want[64], body[128];
	FILE *f;

	snprintf(body, sizeof(body), "%s/www/small", dir);
	f = fopen(body, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 1000; i++)
		fputs("0123456789", f);
	fclose(f);
	for (int p = 0; p < 3; p++) {
		url(u, sizeof(u), p, "/h2up");
		ck_assert_int_eq(run_out(out, sizeof(out),
					 CURL " -sS -m 10 --data-binary @%s %s",
					 body, u),
				 0);
		ck_assert_msg(strcmp(out, "h2 n=10000 te=none\n") == 0,
			      "%s: %s", protos[p], out);
	}
	ck_assert_int_eq(run_out(out, sizeof(out),
				 "timeout 10 nghttp -v -d %s -H 'te: trailers' "
				 "--trailer 'x-req: hello' "
				 "http://127.0.0.1:%u/h2up 2>&1",
				 body, p_gw),
			 0);
	ck_assert_msg(strstr(out, "h2 n=10000 te=trailers") != NULL &&
			      strstr(out, ") x-echo-x-req: hello") != NULL &&
			      strstr(out, ") grpc-status: 0") != NULL,
		      "%s", out);
	/* the trailers come after the body, in their own HEADERS */
	ck_assert_msg(strstr(strstr(out, "te=trailers"), "x-echo-x-req") !=
			      NULL,
		      "%s", out);
	ck_assert_uint_ge(gw_proxy_stats(proxy)->trailers_in, 1);
	ck_assert_uint_ge(gw_proxy_stats(proxy)->trailers_out, 1);
	/* a gRPC request whose upstream is down: gRPC's form of the 502 */
	ck_assert_int_eq(run_out(out, sizeof(out),
				 "timeout 10 nghttp -v -d %s -H "
				 "'content-type: application/grpc' "
				 "http://127.0.0.1:%u/h2down 2>&1",
				 body, p_gw),
			 0);
	snprintf(want, sizeof(want), ":status: 200");
	ck_assert_msg(strstr(out, want) != NULL &&
			      strstr(out, ") grpc-status: 14") != NULL &&
			      strstr(out, ") grpc-message: upstream connect "
					  "failed or reset") != NULL,
		      "%s", out);
	ck_assert_uint_ge(gw_proxy_stats(proxy)->grpc_errors, 1);
	/* the same without application/grpc: the JSON 502 */
	ck_assert_int_eq(req(1, "", "/h2down", out, sizeof(out)), 502);
}
END_TEST

static Suite *
gw_proxy_suite(void)
{
	Suite *s = suite_create("gw_proxy");
	TCase *e2e = tcase_create("e2e");

	tcase_add_unchecked_fixture(e2e, setup, teardown);
	tcase_set_timeout(e2e, 240);
	tcase_add_test(e2e, forwarding_headers);
	tcase_add_test(e2e, hop_by_hop_stripped);
	tcase_add_test(e2e, own_answers);
	tcase_add_test(e2e, down_502_stall_504);
	tcase_add_test(e2e, retry_get_not_post);
	tcase_add_test(e2e, retry_with_body);
	tcase_add_test(e2e, pool_limits);
	tcase_add_test(e2e, eject_after_5xx);
	tcase_add_test(e2e, retry_on_5xx);
	tcase_add_test(e2e, retry_budget);
	tcase_add_test(e2e, big_bodies_intact);
	tcase_add_test(e2e, h2_upstream_trailers);
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
	sr = srunner_create(gw_proxy_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
