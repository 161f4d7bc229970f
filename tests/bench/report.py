#!/usr/bin/env python3
# Renders docs/BENCHMARKS.md from the results tests/bench/run.sh collected
# (one JSON object per line: figure, key, status, data or reason). Ratios
# are computed here, against the baseline measured in the same run; a
# figure without data is printed as "not measured: REASON".
import argparse
import datetime
import json
import os
import platform
import subprocess


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def dpdk_memory(res):
    """What the run's DPDK processes used, from its "rig memory" result:
    (text for the Machine table, True/False/None for hugepages)."""
    r = res.get("rig", "memory")
    if not r or r["status"] != "measured":
        return "not recorded in this run", None
    d = r["data"]
    if d.get("hugepages"):
        return (f"2 MiB hugepages ({d['pages']:,} reserved; the largest "
                f"figure needs {d['need_pages']:,} at once)"), True
    return f"4 KiB pages (--no-huge): {d.get('reason', '?')}", False


def machine(res):
    lscpu = {}
    for line in sh("lscpu").splitlines():
        k, _, v = line.partition(":")
        lscpu[k.strip()] = v.strip()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return [
        ("CPU", lscpu.get("Model name", "?")),
        ("CPUs (nproc)", sh("nproc")),
        ("Hypervisor", lscpu.get("Hypervisor vendor", "none")),
        ("Memory", mem),
        ("Load average when the report was written", sh("cut -d' ' -f1-3 /proc/loadavg")),
        ("Kernel", platform.release()),
        ("OS", sh(". /etc/os-release && echo $PRETTY_NAME")),
        ("DPDK", sh("pkg-config --modversion libdpdk")),
        ("DPDK memory", dpdk_memory(res)[0]),
        ("Compiler", sh("cc --version | head -1")),
    ]


def fmt(v, nd=2):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}"


def spread(vals):
    """(min, median, max) of vals, or None when there are none. The
    median of an even count is the mean of the middle two."""
    v = sorted(x for x in vals if x is not None)
    if not v:
        return None
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return v[0], med, v[-1]


def fmt_spread(vals, nd=2, bold=False):
    """'median (min–max)' over vals; '-' without any."""
    sp = spread(vals)
    if sp is None:
        return "-"
    lo, med, hi = sp
    m = fmt(med, nd)
    if bold:
        m = f"**{m}**"
    if len([x for x in vals if x is not None]) < 2:
        return m
    return f"{m} ({fmt(lo, nd)}–{fmt(hi, nd)})"


def inconclusive(vals, limit):
    """True when max/min of vals exceeds limit (the report's threshold)."""
    sp = spread(vals)
    return sp is not None and sp[0] > 0 and sp[2] / sp[0] > limit


class Results:
    def __init__(self, path):
        self.rows = []
        with open(path) as f:
            for line in f:
                if line.strip():
                    self.rows.append(json.loads(line))

    def get(self, figure, key):
        for r in self.rows:
            if r["figure"] == figure and r["key"] == key:
                return r
        return None

    def of(self, figure):
        return [r for r in self.rows if r["figure"] == figure]


def rig(res, key):
    r = res.get("rig", key)
    return r["data"] if r and r["status"] == "measured" else {}


def reason(r):
    if r is None:
        return "not run (excluded with --only)"
    return f"{r['status']}: {r['reason']}"


def runs(d):
    """Every run of a measurement: Mpps [/ its baseline's] (cycles/packet)."""
    return ", ".join(f"{x['mpps']:.2f}"
                     + (f"/{x['baseline_mpps']:.2f}" if "baseline_mpps" in x else "")
                     + (f" ({x['cycles']})" if "cycles" in x else "")
                     for x in d.get("runs", []))


def col(d, key, scale=1.0):
    """The values of key over a measurement's runs (scaled)."""
    return [x[key] * scale if scale != 1.0 else x[key]
            for x in d.get("runs", []) if key in x]


def judge(vals, goal, below=True):
    """Whether a goal is met by every run (met), by none (not met) or by
    some (inconclusive), as text with the median and range."""
    sp = spread(vals)
    if sp is None:
        return "not measured"
    lo, med, hi = sp
    ok_all = hi <= goal if below else lo >= goal
    ok_none = lo > goal if below else hi < goal
    verdict = ("met" if ok_all else "not met" if ok_none else
               "inconclusive (the runs fall on both sides)")
    return f"{verdict}: {fmt_spread(vals, 0)}"


def own_section(res, w, limit, names):
    """The headline section from bench_own; returns the goal verdicts."""
    goals = {}
    w("## Headline: the dataplane's own cost per packet (no driver)\n")
    r = res.get("own", "all")
    if r is None or r["status"] != "measured":
        w(reason(r) + "\n")
        return goals
    d = r["data"]
    hz = d["tsc_hz"]
    w("`tests/bench/bench_own`: one process, one thread, the real "
      "dataplane context (service table, connection table, routes, "
      "neighbours, forwarding stage) around a DPDK `net_ring` port whose "
      "queues are plain rings: no driver copies a frame. The harness "
      f"writes each burst of {d['burst']} frames ({d['frame_bytes']} "
      "bytes, one template patched per flow) into recycled mbufs, puts it "
      "on the RX ring, runs one iteration of the worker's real poll loop "
      "(`worker_iterate`: RX burst, parse, burst connection lookup, "
      "forward, rewrite, TX flush) and takes the frames off the TX ring. "
      "Each run is paired with a run of the same harness around a "
      "do-nothing forwarder (the burst moved from the RX to the TX queue "
      "unchanged): the **floor**. **Own cycles** = the run's cycles per "
      "packet − its floor's. Sampled output frames (one burst in 64; "
      "every burst in smoke mode) are "
      "validated independently of the dataplane's code (addresses, ports, "
      "TTL, MACs, IPv4 and L4 checksums recomputed, the IPIP header); a "
      "missing or invalid frame fails the run. "
      f"{d['reps']} runs per figure; TSC {fmt(hz / 1e9, 2)} GHz; DPDK "
      f"memory on {'2 MiB hugepages' if d.get('hugepages') else '4 KiB pages (--no-huge)'}.\n")
    w("Established flows (UDP; a warm-up pass creates one connection per "
      "flow, then each run sends *frames per run* frames, every flow at "
      "least once, in a fixed pseudo-random flow order):\n")
    w("| mode | flows | **own cycles/packet** | whole loop | floor | worker busy cycles/packet | frames per run | frames checked | missing + invalid | warm-up cycles/packet (new connections) |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for x in d.get("steady", []):
        own = [y["own"] for y in x["runs"]]
        bad = x["missing"] + sum(x["invalid"].values())
        flag = " *inconclusive*" if inconclusive(own, limit) else ""
        w(f"| {names.get(x['mode'], x['mode'])} | {x['flows']:,} | "
          f"{fmt_spread(own, 0, bold=True)}{flag} | "
          f"{fmt_spread([y['cycles'] for y in x['runs']], 0)} | "
          f"{fmt_spread([y['floor'] for y in x['runs']], 0)} | "
          f"{fmt_spread([y['busy'] for y in x['runs']], 0)} | "
          f"{x['packets']:,} | {x['checked']:,} | {bad} | "
          f"{fmt(x['warmup_cycles'], 0)} |")
        if x["flows"] == 1000000 and x["mode"] in ("fnat", "dr"):
            goals[x["mode"]] = judge(own, 250 if x["mode"] == "fnat" else 100)
    w("")
    w("*Worker busy cycles* is the dataplane's own busy-cycle counter over "
      "the same iterations (what `STATS_GET` reports in production): the "
      "own cycles plus the ring driver's share of the floor.\n")
    rates = []
    if d.get("newconn"):
        w("New connections: every frame a TCP SYN of a flow never seen, "
          "into a fresh table sized for them, per run. Connections per "
          "second per worker = TSC Hz / own cycles per SYN (and, for "
          "comparison, / the whole loop's cycles, harness included):\n")
        w("| mode | SYNs per run | **own cycles per new connection** | **connections/s (own)** | connections/s (whole loop) | connections created | missing + invalid |")
        w("|---|---|---|---|---|---|---|")
        for x in d["newconn"]:
            own = [y["own"] for y in x["runs"]]
            cps = [hz / y["own"] for y in x["runs"] if y["own"] > 0]
            whole = [hz / y["cycles"] for y in x["runs"] if y["cycles"] > 0]
            bad = x["missing"] + sum(x["invalid"].values())
            created = ", ".join(f"{y['created']:,}" for y in x["runs"])
            name = names.get(x["mode"], x["mode"])
            rates.append(f"{name} {judge(cps, 1e6, below=False)}")
            w(f"| {name} | {x['syn']:,} | "
              f"{fmt_spread(own, 0, bold=True)} | {fmt_spread(cps, 0)} | "
              f"{fmt_spread(whole, 0)} | {created} | {bad} |")
        w("")
        goals["newconn"] = "; ".join(rates)
    return goals


def http_route_section(res, w, limit):
    """Figure 7: bench_http_route (edgelbd's HTTP stack) against nginx,
    h2load over HTTP/1.1 keep-alive and h2c; ratios within a round."""
    w("## 7. A trivial route on edgelbd's HTTP stack, against nginx\n")
    r = res.get("http_route", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    w("`tests/bench/bench_http_route.sh`: `bench_http_route` "
      "(controlplane/http/, one thread, a fixed 200 with a "
      f"{d['body_bytes']}-byte body) and {d['nginx']} (one worker, "
      "`master_process off`, `access_log off`, `return 200` with the same "
      "body), each pinned to CPU 1; "
      f"`taskset -c 0 h2load -t1 -c{d['conns']} -D{d['duration']}` "
      "over HTTP/1.1 keep-alive (`--h1`, one request at a time per "
      f"connection) and h2c with prior knowledge (`-m{d['streams']}`); "
      f"{d['rounds']} rounds, alternating which server goes first. p99 "
      "from h2load's per-request log; CPU per request = the server's "
      "utime + stime (/proc/PID/stat) over the run / requests done. "
      "Ratios are taken within a round (route over nginx); median "
      "(min–max) over rounds.\n")
    runs_ = d["runs"]
    w("| protocol | route req/s | route p99 µs | route CPU µs/req | nginx req/s | nginx p99 µs | nginx CPU µs/req | req/s ratio | CPU/req ratio (nginx / route) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for proto, name in (("h1", "HTTP/1.1"), ("h2", "HTTP/2 (h2c)")):
        rt = [x for x in runs_ if x["server"] == "route" and x["proto"] == proto]
        ng = [x for x in runs_ if x["server"] == "nginx" and x["proto"] == proto]
        if not rt or not ng:
            why = d.get("h2_skipped") if proto == "h2" else None
            w(f"| {name} | not measured: {why or 'no runs'} | | | | | | | |")
            continue
        rps_r = [a["rps"] / b["rps"] for a, b in zip(rt, ng) if b["rps"]]
        cpu_r = [b["cpu_us_per_req"] / a["cpu_us_per_req"] for a, b in zip(rt, ng)
                 if a.get("cpu_us_per_req") and b.get("cpu_us_per_req")]
        flag = " **inconclusive**" if inconclusive(rps_r, limit) else ""
        w(f"| {name} | {fmt_spread([x['rps'] for x in rt], 0)} | "
          f"{fmt_spread([x['p99_us'] for x in rt], 0)} | "
          f"{fmt_spread([x['cpu_us_per_req'] for x in rt], 2)} | "
          f"{fmt_spread([x['rps'] for x in ng], 0)} | "
          f"{fmt_spread([x['p99_us'] for x in ng], 0)} | "
          f"{fmt_spread([x['cpu_us_per_req'] for x in ng], 2)} | "
          f"{fmt_spread(rps_r, 2, bold=True)}{flag} | {fmt_spread(cpu_r, 2)} |")
    w("")
    w("Every run: " + "; ".join(
        f"{x['server']}/{x['proto']} {x['rps']:,.0f} req/s p99 {x['p99_us']} µs "
        f"{x['cpu_us_per_req']:.2f} µs CPU/req" if x.get("cpu_us_per_req") else
        f"{x['server']}/{x['proto']} {x['rps']:,.0f} req/s" for x in runs_) + ".\n")


def ratio_verdict(vals, goal, below=False):
    """A ratio against its goal over every round: met, not met or
    inconclusive, with the median (min–max)."""
    sp = spread(vals)
    if sp is None:
        return "not measured"
    lo, _, hi = sp
    ok_all = hi <= goal if below else lo >= goal
    ok_none = lo > goal if below else hi < goal
    verdict = ("met" if ok_all else "not met" if ok_none else
               "inconclusive (the rounds fall on both sides)")
    return f"{fmt_spread(vals, 2, bold=True)}, goal {'≤' if below else '≥'} {goal:.2f}: {verdict}"


def gateway_section(res, w, limit):
    """Figure 8: the API gateway in edgelbd against nginx proxy_pass and
    HAProxy through the same 1,000 routes (tests/bench/bench_gateway.sh)."""
    w("## 8. The API gateway against nginx and HAProxy, 1,000 routes\n")
    r = res.get("gateway", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    g = d["goals"]
    w("`tests/bench/bench_gateway.sh`: three proxies in front of one "
      "backend (nginx, one process, `return 200` with a "
      f"{d['body_bytes']}-byte body), each with the same table of "
      f"{d['routes']:,} routes on any host (60 % path prefixes, 20 % exact "
      "paths, 20 % regexes): edgelbd's gateway (one worker thread; routes "
      "indexed by exact path, prefix and regex literal, the first in "
      "configuration order wins), "
      f"{d['nginx']} (master + one worker, one `location` per route, "
      "`proxy_pass` to keep-alive upstreams, `pcre_jit on`) and "
      f"{d['haproxy']} (`nbthread 1`; exact paths, prefixes and regexes in "
      "three maps, `http-reuse always`, pattern cache off). Each proxy is "
      "pinned to CPU 1; the load generator and the backend share CPU 0. "
      f"Every request is `GET {d['path']}`, which only route "
      f"{d['target_route']} matches: the last regex route, so the gateway "
      "tries the candidates its index finds for the path, nginx its prefix tree and then every "
      "regex location, HAProxy both maps before its regex map. HTTP/1.1: "
      f"`wrk -t1 -c{d['conns']} -d{d['duration']}s --latency` (keep-alive); "
      f"HTTP/2: `h2load -t1 -c{d['conns']} -m{d['streams']} -D{d['duration']}` "
      f"(h2c, prior knowledge; p50/p99 from its per-request log). "
      f"{d['rounds']} rounds; in each, the three proxies in a rotating "
      "order. CPU µs/req = utime + stime (/proc/PID/stat) of all the "
      "proxy's processes over the run / requests completed. Ratios are "
      "taken within a round: req/s gateway ÷ peer (above 1: the gateway "
      "is ahead) and CPU/req gateway ÷ peer (the gateway's cost "
      "relative to the peer's; below 1: cheaper); median (min–max) over "
      "rounds.\n")
    w("The load generator and the backend share one CPU and can cap "
      "requests/s below what a proxy could do; CPU time per request is "
      "not hidden by that cap, and the goals apply to both (CPU: at most "
      f"{1 / g['rps_ratio_nginx']:.2f}× nginx's and "
      f"{1 / g['rps_ratio_haproxy']:.2f}× HAProxy's cost).\n")
    w("| protocol | proxy | req/s | p50 µs | p99 µs | CPU µs/req |")
    w("|---|---|---:|---:|---:|---:|")
    names = (("h1", "HTTP/1.1"), ("h2", "HTTP/2 (h2c)"))
    for proto, name in names:
        for p in ("gateway", "nginx", "haproxy"):
            rr = [x for x in d["runs"] if x["proxy"] == p and x["proto"] == proto]
            w(f"| {name} | {p} | {fmt_spread([x['rps'] for x in rr], 0)} | "
              f"{fmt_spread([x['p50_us'] for x in rr], 0)} | "
              f"{fmt_spread([x['p99_us'] for x in rr], 0)} | "
              f"{fmt_spread([x['cpu_us_per_req'] for x in rr], 1)} |")
    w("")
    w("| protocol | req/s gateway ÷ nginx | req/s gateway ÷ HAProxy | CPU/req gateway ÷ nginx | CPU/req gateway ÷ HAProxy |")
    w("|---|---|---|---|---|")
    for proto, name in names:
        rt = {}
        for peer in ("nginx", "haproxy"):
            by = {p: {x["round"]: x for x in d["runs"]
                      if x["proxy"] == p and x["proto"] == proto}
                  for p in ("gateway", peer)}
            rounds = sorted(set(by["gateway"]) & set(by[peer]))
            rt[f"rps_{peer}"] = [by["gateway"][k]["rps"] / by[peer][k]["rps"]
                                 for k in rounds if by[peer][k]["rps"]]
            rt[f"cpu_{peer}"] = [by["gateway"][k]["cpu_us_per_req"]
                                 / by[peer][k]["cpu_us_per_req"] for k in rounds
                                 if by["gateway"][k]["cpu_us_per_req"]
                                 and by[peer][k]["cpu_us_per_req"]]
        cells = []
        for key, goal, below in (("rps_nginx", g["rps_ratio_nginx"], False),
                                 ("rps_haproxy", g["rps_ratio_haproxy"], False),
                                 ("cpu_nginx", 1 / g["rps_ratio_nginx"], True),
                                 ("cpu_haproxy", 1 / g["rps_ratio_haproxy"], True)):
            flag = " *inconclusive spread*" if inconclusive(rt[key], limit) else ""
            cells.append(ratio_verdict(rt[key], goal, below) + flag)
        w(f"| {name} | " + " | ".join(cells) + " |")
    w("")
    w("Every run (round, proxy/protocol: req/s, p50/p99 µs, CPU µs/req): "
      + "; ".join(f"{x['round']} {x['proxy']}/{x['proto']}: {x['rps']:,.0f}, "
                  f"{x['p50_us']:.0f}/{x['p99_us']:.0f}, {x['cpu_us_per_req']:.1f}"
                  for x in d["runs"] if x.get("cpu_us_per_req")) + ".\n")


def gw_lookup_section(res, w):
    """Figure 9: gw_table_match with 10,000 routes (bench_gw_lookup)."""
    w("## 9. Gateway route lookup with 10,000 routes\n")
    r = res.get("gw_lookup", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    w("`tests/bench/bench_gw_lookup`: `gw_table_match` on a table of "
      f"{d['routes']:,} routes built through `gw_conf_key` and "
      "`gw_table_build` (60 % path prefixes, 20 % exact paths, 20 % "
      "PCRE2 regexes; 60 % of the routes on any host, the rest on "
      f"{d['exact_hosts']} exact and {d['suffix_hosts']} suffix hosts), "
      f"against the same lookups on a {d['baseline_routes']}-route table "
      "of the same shape, in the same run, repetitions interleaved. "
      "A repetition times a calibrated number of lookups "
      f"(about {d['target_ms']:g} ms); median (min–max) ns per lookup over "
      f"{d['reps']} repetitions. *Tried*: the routes (of them regexes) "
      "before the match in configuration order in the virtual host the "
      "host picks, which a walk in order would run; the lookup's index "
      "runs only those whose path key (exact path, prefix, regex "
      "literal) the path has. Every lookup is checked to return its route. "
      f"Building the {d['routes']:,}-route table took "
      f"{fmt(d['build_ms'], 0)} ms ({fmt(d['baseline_build_ms'], 2)} ms "
      f"for {d['baseline_routes']}).\n")
    w(f"| case | request | route | tried (regex) | **ns, {d['routes']:,} routes** | route, tried (regex), {d['baseline_routes']} routes | ns, {d['baseline_routes']} routes | ratio |")
    w("|---|---|---|---:|---:|---|---:|---:|")
    for c in d["cases"]:
        b = c["baseline"]
        ns = c["ns"]
        bns = b["ns"]
        w(f"| {c['case']} | `{c['host']}{c['path']}` | {c['route'] or 'none'} | "
          f"{c['tried']:,} ({c['tried_regex']:,}) | "
          f"**{fmt(ns['median'], 0)}** ({fmt(ns['min'], 0)}–{fmt(ns['max'], 0)}) | "
          f"{b['route'] or 'none'}, {b['tried']} ({b['tried_regex']}) | "
          f"{fmt(bns['median'], 0)} ({fmt(bns['min'], 0)}–{fmt(bns['max'], 0)}) | "
          f"{fmt(c['ratio'], 1)} |")
    w("")


GWF_CASES = (("plain", "no filter", "`/plain/x?q=TAG-N`"),
             ("hs_miss", "JWT HS256 + token bucket + cache, MISS", "`/hs/x?q=TAG-N`"),
             ("hs_hit", "the same route, HIT", "`/hs/x?q=hit`"),
             ("es_miss", "JWT ES256 + token bucket + cache, MISS", "`/es/x?q=TAG-N`"),
             ("c_miss", "cache alone, MISS", "`/c/x?q=TAG-N`"),
             ("c_hit", "cache alone, HIT", "`/c/x?q=hit`"))
GWF_RATIOS = (
    ("chain", "hs_miss", "plain", "JWT (HS256) + token bucket + cache miss ÷ no filter", 0.8),
    ("es", "es_miss", "plain", "the same with JWT ES256 ÷ no filter", None),
    ("hit", "hs_hit", "hs_miss", "cache hit ÷ cache miss, both on the JWT + token bucket + cache route", 1.5),
    ("c_hit", "c_hit", "c_miss", "cache hit ÷ cache miss, cache alone", None),
    ("c_miss", "c_miss", "plain", "cache miss (cache alone) ÷ no filter", None))


def gw_filters_section(res, w, limit):
    """The gateway's filter chain against no filter; cache hit against
    miss (tests/bench/bench_gw_filters.sh)."""
    w("## Gateway filters: JWT + token bucket + cache against no filter\n")
    r = res.get("gw_filters", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    g = d["goals"]
    w("`tests/bench/bench_gw_filters.sh`: one edgelbd gateway (`workers = "
      "1`, access log off) pinned to CPU 1 in front of one backend "
      f"({d['nginx']}, one process, `return 200` with a {d['body_bytes']}-byte "
      "body and `Cache-Control: max-age=3600`) that shares CPU 0 with the "
      "load generator. Routes to that backend: no filter; `jwt` (HS256, "
      "issuer and audience checked, the token in `X-Token`) + `ratelimit` "
      "(token bucket keyed by consumer, 100,000,000/s: never refuses) + "
      "`cache`; the same with an ES256 key; the cache alone. The cache key "
      "holds the query: a miss case asks a new query every request "
      "(TAG new per run, N counting its requests), so each is looked up, "
      "sent upstream, its answer copied and stored (the cache fills, then "
      "evicts); a hit case asks one query stored before. Every request "
      "carries the same token (a client keeps its token for its "
      f"lifetime). Each run: `wrk -t1 -c{d['conns']} -d{d['duration']}s` on "
      "CPU 0 with a Lua `request()` that puts the request together "
      "(the same for every case); "
      f"{d['rounds']} rounds, the cases in a rotating order. CPU µs/req = "
      "utime + stime of edgelbd (/proc/PID/stat) over the run / requests; "
      "*capacity* = 1 / CPU per request, the requests one CPU of the "
      "gateway answers per second; *CPU share* = req/s × CPU/req, how "
      "busy the gateway's CPU was (below 1: the load generator and the "
      "backend on CPU 0 set the rate). After every run the cache's own "
      "counters (`lbctl api cache stats`) must account for each request "
      "as a miss and a store, or as a hit.\n")
    w("| case | request | req/s | p99 µs | CPU µs/req | capacity, req/CPU-s | CPU share |")
    w("|---|---|---:|---:|---:|---:|---:|")
    for key, what, path in GWF_CASES:
        rr = [x for x in d["runs"] if x["case"] == key]
        if not rr:
            continue
        w(f"| {what} | {path} | {fmt_spread([x['rps'] for x in rr], 0)} | "
          f"{fmt_spread([x['p99_us'] for x in rr], 0)} | "
          f"{fmt_spread([x['cpu_us_per_req'] for x in rr], 1)} | "
          f"{fmt_spread([1e6 / x['cpu_us_per_req'] for x in rr if x['cpu_us_per_req']], 0)} | "
          f"{fmt_spread([x['rps'] * x['cpu_us_per_req'] / 1e6 for x in rr], 2)} |")
    w("")
    w("Ratios are taken within each round (its runs follow each other), "
      "median (min–max) over rounds. *req/s* divides the rates "
      "wrk saw; *capacity* divides 1 / CPU per request of edgelbd, which "
      "the load generator's limit does not hide and the noise moves less. "
      "*Least disturbed runs*: the ratio of each case's lowest CPU per "
      "request over all rounds; other processes can only add to a run's "
      "CPU per request (shared caches, memory bandwidth), so the lowest "
      "is the closest to the code's own cost.\n")
    w("| ratio | compares | req/s | capacity | capacity, least disturbed runs |")
    w("|---|---|---|---|---|")
    by = {}
    for x in d["runs"]:
        by.setdefault(x["case"], {})[x["round"]] = x
    for name, num, den, what, goal in GWF_RATIOS:
        if num not in by or den not in by:
            continue
        rounds = sorted(set(by[num]) & set(by[den]))
        rps = [by[num][k]["rps"] / by[den][k]["rps"] for k in rounds
               if by[den][k]["rps"]]
        cap = [by[den][k]["cpu_us_per_req"] / by[num][k]["cpu_us_per_req"]
               for k in rounds if by[num][k]["cpu_us_per_req"]
               and by[den][k]["cpu_us_per_req"]]
        cells = []
        for vals in (rps, cap):
            flag = " *inconclusive spread*" if inconclusive(vals, limit) else ""
            cells.append((ratio_verdict(vals, goal) if goal else
                          fmt_spread(vals, 2, bold=True)) + flag)
        # each case's least disturbed run: its lowest CPU per request
        lo_num = min((x["cpu_us_per_req"] for x in by[num].values()
                      if x["cpu_us_per_req"]), default=None)
        lo_den = min((x["cpu_us_per_req"] for x in by[den].values()
                      if x["cpu_us_per_req"]), default=None)
        best = (f"{lo_den / lo_num:.2f}" if lo_num and lo_den else "-")
        if goal and lo_num and lo_den:
            best += f" ({'met' if lo_den / lo_num >= goal else 'not met'})"
        w(f"| {name} | {num} ÷ {den}: {what} | " + " | ".join(cells)
          + f" | {best} |")
    w("")
    cg = res.get("gw_filters", "callgrind")
    if cg and cg["status"] == "measured":
        ir = cg["data"]["ir_per_request"]
        w("Instructions per request in edgelbd (user space; `valgrind "
          "--tool=callgrind`, `bench_gw_filters.sh --callgrind`: counters "
          "zeroed before and dumped after a wrk run of 4 connections per "
          "case, same build), which no other process moves: "
          + ", ".join(f"{k} {v:,}" for k, v in ir.items())
          + (f"; hs_miss ÷ plain {ir['plain'] / ir['hs_miss']:.2f} as capacity, "
             f"hit ÷ miss {ir['hs_miss'] / ir['hs_hit']:.2f}"
             if ir.get("hs_miss") and ir.get("hs_hit") and ir.get("plain") else "")
          + ". The kernel's work (socket reads and writes, about the same "
          "for every case that goes upstream) is not in these counts, so "
          "these ratios are lower than those of CPU time.\n")
    elif cg:
        w(f"Instructions per request: {reason(cg)}\n")
    plain = [x["cpu_us_per_req"] for x in d["runs"] if x["case"] == "plain"]
    sp = spread(plain)
    if sp and sp[0] > 0:
        w(f"**Noise.** The machine is shared: the same case (no filter) "
          f"cost {fmt(sp[0], 1)} to {fmt(sp[2], 1)} µs of CPU per request "
          f"over the rounds ({sp[2] / sp[0]:.1f}×) and ran at "
          f"{fmt_spread([x['rps'] for x in d['runs'] if x['case'] == 'plain'], 0)} "
          "req/s; ratios within a round cancel most of that drift, not all "
          "(the runs of a round are seconds apart). Load average (1, 5, 15 "
          f"min) at the start of the runs {d.get('loadavg_start', '?')}, "
          f"at the end {d.get('loadavg_end', '?')}, on {sh('nproc')} CPUs.\n")
    w("Every run (round case: req/s, p99 µs, CPU µs/req): "
      + "; ".join(f"{x['round']} {x['case']}: {x['rps']:,.0f}, "
                  f"{x['p99_us']:.0f}, {x['cpu_us_per_req']:.1f}"
                  for x in d["runs"]) + ".\n")


def gw_redis_section(res, w, limit):
    """Cluster-wide rate limits in Redis (tests/bench/bench_gw_redis.sh)."""
    w("## Gateway rate limits with Redis: decisions/s, round trips, added p99\n")
    r = res.get("gw_redis", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    w("`tests/bench/bench_gw_redis.sh`: one edgelbd gateway (`workers = 1`, "
      "access log off) pinned to CPU 1 in front of `bench_http_route` (a "
      f"fixed 200); wrk, that backend and {d['redis']} (loopback, no "
      "persistence) share CPU 0. The same `ratelimit` on three routes "
      "(token bucket keyed by route, 100,000,000/s: never refuses): local "
      "(in edgelbd), `store = redis` (one `EVALSHA` per decision, the "
      f"request held until Redis answers) and `store = redis` with `lease = {d['lease']}`; "
      "a fourth route has no filter. Each run: "
      f"`wrk -t1 -c{d['conns']} -d{d['duration']}s --latency`; {d['rounds']} "
      "rounds, the routes in a rotating order. On a limited route every "
      "request is a decision, so its req/s are decisions/s. *Round trips "
      "per request*: the `EVALSHA` and `EVAL` calls Redis itself counted "
      "(`INFO commandstats`) over the run, divided by the requests the "
      "route answered (edgelbd's `edgelbd_gateway_requests_total`); "
      "edgelbd's own count of commands sent is given beside it. *Added "
      "p99*: p99 of the Redis route minus p99 of the local route, within "
      "each round. CPU µs/req: utime + stime (/proc/PID/stat) over the run "
      "/ requests.\n")
    w("| route | req/s (decisions/s) | p50 µs | p99 µs | edgelbd CPU µs/req | redis-server CPU µs/req | Redis round trips/request (Redis; edgelbd) |")
    w("|---|---:|---:|---:|---:|---:|---|")
    names = {"none": "no filter", "local": "local limit",
             "redis": "Redis limit", "lease": f"Redis limit, lease = {d['lease']}"}
    for key, name in names.items():
        rr = [x for x in d["runs"] if x["route"] == key]
        if not rr:
            continue
        rt = (f"{fmt_spread([x['redis_calls_per_req'] for x in rr], 3, bold=True)}; "
              f"{fmt_spread([x['gw_round_trips'] / x['served'] for x in rr], 3)}"
              if key in ("redis", "lease") else "-")
        w(f"| {name} | {fmt_spread([x['rps'] for x in rr], 0)} | "
          f"{fmt_spread([x['p50_us'] for x in rr], 0)} | "
          f"{fmt_spread([x['p99_us'] for x in rr], 0)} | "
          f"{fmt_spread([x['gw_cpu_us_per_req'] for x in rr], 1)} | "
          f"{fmt_spread([x['redis_cpu_us_per_req'] for x in rr], 1)} | {rt} |")
    w("")
    pr = d["per_round"]
    w("Within each round, median (min–max): p99 added by Redis over the "
      f"local limiter **{fmt_spread(pr['redis_p99_added_us'], 0)} µs**, with "
      f"leases {fmt_spread(pr['lease_p99_added_us'], 0)} µs; p50 added "
      f"{fmt_spread(pr['redis_p50_added_us'], 0)} µs, with leases "
      f"{fmt_spread(pr['lease_p50_added_us'], 0)} µs; decisions/s "
      f"Redis ÷ local {fmt_spread(pr['redis_rps_over_local'], 2)}, with "
      f"leases {fmt_spread(pr['lease_rps_over_local'], 2)}. A negative "
      "added p99 is a round in which the local run met more of the "
      "machine's noise than the Redis run. Load average (1, 5, 15 min) at "
      f"the start of the runs {d.get('loadavg_start', '?')}, at the end "
      f"{d.get('loadavg_end', '?')}, on {sh('nproc')} CPUs.\n")
    w("Every run (round route: decisions/s, p99 µs, Redis calls/request): "
      + "; ".join(f"{x['round']} {x['route']}: {x['rps']:,.0f}, "
                  f"{x['p99_us']:.0f}, {x['redis_calls_per_req']:.3f}"
                  for x in d["runs"]) + ".\n")


def push_deliver_section(res, w):
    """The push service: one message to every online device, heartbeats,
    accepted messages per second durable against tmpfs
    (tests/bench/bench_push_deliver.sh)."""
    w("## Push delivery: one message to 100,000 online devices; accepted messages per second\n")
    r = res.get("push_deliver", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]["deliver"]
    a = r["data"]["accept"]
    one = r["data"].get("single")
    w("`tests/bench/bench_push_deliver.sh`, cluster mode (docs/push.md "
      f"\"Cluster mode (Redis)\"): {d['nodes']} edgelbd push nodes "
      f"({', '.join(f'{x:,}' for x in d['per_node'])} devices) sharing "
      f"{d['redis']} (edgelbd and Redis pinned to CPU 1); one "
      "`push_deliver_gen` per node (pinned to CPU 0; one process, one "
      "thread, epoll, each under one process's open-file limit) holding "
      f"its node's devices over loopback from {d['sources']} source "
      "addresses (127.3.0.x), each speaking the real device protocol "
      "(frames built with `push_frame.h`): HELLO, "
      f"WELCOME, a PING every half heartbeat ({d['heartbeat_s']} s), an "
      "ACK for each MESSAGE at once. With every device on every node "
      "registered the first generator posts one message to all of them "
      "on node 1 (`POST /push/v1/messages` `{\"all\": true}`, on its "
      "event loop); node 1 queues it for every device in Redis and wakes "
      "the node holding each device on the others "
      f"({d['wakes_received']:,.0f} wakes received). Times from writing "
      "the request: the 202, MESSAGE arrivals on every node (CLOCK_MONOTONIC, "
      "one clock for all generators), the last ACK sent, and the moment "
      "the sum of the nodes' `messages_acked_total` counts every ACK "
      "(polled every 20 ms); CPU: the sum over the nodes. Then the same on "
      "one node with the SQLite store on disk (as many devices as one "
      "process may hold), for comparison. One run each.\n")
    w("| run | devices | registered in | 202 after | first MESSAGE | p50 | p99 | last MESSAGE | last ACK sent | **every ACK counted** | edgelbd CPU | edgelbd RSS after | duplicates | redelivered |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, x in ((f"**{d['nodes']} nodes, Redis**", d),
                    ("1 node, SQLite", one)):
        if not x:
            continue
        w(f"| {name} | {x['devices']:,} | {fmt(x['register_s'], 1)} s | "
          f"{fmt(x['accepted_ms'], 0)} ms | {fmt(x['first_ms'], 0)} ms | "
          f"{x['p50_ms']:,} ms | {x['p99_ms']:,} ms | {fmt(x['last_ms'], 0)} ms | "
          f"{fmt(x['last_ack_ms'], 0)} ms | **{fmt(x['acked_ms'] / 1000, 2)} s** | "
          f"{fmt(x['server_cpu_s'], 2)} s | {x['server_rss_kb'] / 1024:,.0f} MiB | "
          f"{x['duplicates']} | {x['server_redelivered']:,.0f} |")
    w("")
    if one and one.get("capped"):
        w(f"One node: {one['capped']}.\n")
    if d.get("ping_window_s"):
        win = d["ping_window_s"]
        pings = d["window_pings"]
        cpu = d["ping_cpu_s"]
        w(f"Heartbeats: then {win:.0f} s of PINGs only, every device every "
          f"{d['heartbeat_s'] / 2:g} s: {pings:,} PINGs "
          f"({pings / win:,.0f} per second, counted by the generators "
          "between the window's marks), every one answered by a PONG; "
          f"the {d['nodes']} edgelbd nodes used {fmt(cpu, 2)} s of CPU "
          f"(**{100 * cpu / win:.1f} % of one core**, "
          + (f"{cpu * 1e6 / pings:.1f} µs per PING" if pings else "-")
          + "), the epoll wake-ups, reads, the PONGs and the heartbeat "
          "timeout re-arms included.\n")
    w("Messages accepted per second with durability on: a fresh edgelbd "
      f"with {a['devices']:,} registered, offline devices; `wrk -t1 "
      f"-c{a['conns']} -d{a['duration']}s` ({a['tool']}, pinned to CPU 0, "
      "a Lua script) POSTs messages to them in turn, each request a new "
      "message to one device. **Durable**: the SQLite file on "
      f"this machine's disk ({a['disk']}), WAL with `synchronous=FULL`: "
      "each 202 after its commit's fsync; the requests of one event-loop "
      "iteration share one transaction (group commit: *messages per "
      "commit*). **Baseline**: the same edgelbd, load and SQL with the "
      "file on tmpfs (`/dev/shm`), where fsync returns at once, measured "
      f"in the same run, {a['rounds']} round(s), order alternating: the "
      "difference is what waiting for the disk costs. Every request was "
      "answered 202 and counted in `messages_accepted_total`. p50 and p99: "
      "wrk's request latency. CPU µs/msg: edgelbd's utime + stime over the "
      "run per message accepted.\n")
    w("| store | **messages/s** | p50 ms | p99 ms | messages per commit | edgelbd CPU µs/msg |")
    w("|---|---:|---:|---:|---:|---:|")
    runs_ = a["runs"]
    for store, name in (("disk", "durable (disk, fsync)"),
                        ("tmpfs", "baseline (tmpfs)")):
        xs = [x for x in runs_ if x["store"] == store]
        w(f"| {name} | {fmt_spread([x['rps'] for x in xs], 0, bold=True)} | "
          f"{fmt_spread([x['p50_ms'] for x in xs], 1)} | "
          f"{fmt_spread([x['p99_ms'] for x in xs], 1)} | "
          f"{fmt_spread([x['per_commit'] for x in xs], 1)} | "
          f"{fmt_spread([x['cpu_us_per_msg'] for x in xs], 0)} |")
    ratio = [x["rps"] / y["rps"] for x in runs_ for y in runs_
             if x["store"] == "disk" and y["store"] == "tmpfs"
             and x["round"] == y["round"] and y["rps"]]
    w("")
    w(f"Durable over tmpfs, per round: {fmt_spread(ratio, 2)}.\n")


def push_idle_section(res, w):
    """Idle device connections on the push service (bench_push_idle.sh)."""
    w("## Push: idle device connections\n")
    r = res.get("push_idle", "all")
    if not r or r["status"] != "measured":
        w(f"{reason(r)}\n")
        return
    d = r["data"]
    u, k, c, g = d["user"], d["kernel"], d["cpu"], d["gen"]
    w(f"`tests/bench/bench_push_idle.sh`: {d.get('procs', 1)} edgelbd "
      "processes with `[push]` (each its own port and SQLite store) on "
      f"loopback, at most {d.get('per_proc', d['target']):,} device "
      "connections each (one process's open-file limit), and as many "
      "`tests/bench/push_idle_gen` (one thread, epoll), one per edgelbd, "
      "started one pair after the other while the machine keeps "
      f"{d.get('mem_margin_mib', 0):,} MiB of MemAvailable after the next "
      "pair's need; each opens its device connections from its own 127.x "
      f"source addresses ({d['per_addr']:,} each), every one doing the real "
      "HELLO/WELCOME and BIND/BOUND handshake, then idles with a PING "
      f"every heartbeat ({d['heartbeat_s']} s, spread over the "
      "connections). *User space*: the growth of the edgelbds' VmRSS "
      "(summed) from before the first connection to the end of the ramp, "
      "divided by the connections held (sockets and their buffers are "
      "kernel memory, not in a process's RSS); *marginal*: the same from "
      "halfway (half the pairs ramped) to the end. *Kernel*: the whole "
      "machine's slab growth over the same time, both ends of every "
      "connection (the generator's sockets are on this machine too), and "
      "the TCP buffer pages of /proc/net/sockstat; other work on the "
      "machine moves these. *CPU*: the edgelbds' user+system seconds per second "
      f"over {c['window_s']:g} s while every device pings once a "
      "heartbeat.\n")
    asked = d.get("asked", d["target"])
    goal = 1000000
    w("| | |\n|---|---|")
    w(f"| connections asked for | {asked:,} |")
    if d.get("capped_by"):
        w(f"| target after the limits | {d['target']:,} (capped by "
          f"{d['capped_by']}) |")
    held = d["held"]
    w(f"| **connections held** (goal {goal:,}) | **{held:,}** "
      f"({'met' if held >= goal else 'not met'}; edgelbd online "
      f"{d['online_start']:,} after the ramp, {d['online_end']:,} at the "
      f"end of the window; generator peak {d['peak']:,}) |")
    rate = (f"; {d['rate_per_s']:,} handshakes/s" if d.get("rate_per_s")
            else "")
    w(f"| processes | {d.get('procs_started', 1)} of {d.get('procs', 1)} "
      "edgelbd + generator pairs started"
      + (f"; {d['nofile']}" if d.get("nofile") else "") + " |")
    w(f"| ramp | {d['ramp_s']:.1f} s{rate}, "
      f"{g.get('connect_errors', 0)} connect errors, "
      f"{g.get('handshake_errors', 0)} failed handshakes"
      + (f"; stopped by {d['limit']}" if d.get("limit") else "") + " |")
    bpc = u["bytes_per_conn"]
    w(f"| **user space per idle connection** (goal ≤ 1,024 bytes) | "
      f"**{bpc:,} bytes** ({'met' if bpc <= 1024 else 'not met'}); "
      f"private anonymous {u['private_bytes_per_conn']:,}; VmRSS "
      f"{u['rss_before_kb']:,} → {u['rss_idle_kb']:,} KiB |")
    m = u.get("marginal")
    if m:
        w(f"| user space, marginal | {m['bytes_per_conn']:,} bytes "
          f"(from {m['from']:,} to {m['to']:,} connections) |")
    w(f"| kernel, slab growth (whole machine) | "
      f"{k['slab_growth_kb'] / 1024:,.0f} MiB, "
      f"{k['slab_bytes_per_conn']:,} bytes per connection held (its two "
      f"sockets); TCP sockets in use {k.get('tcp_inuse_before', 0):,} → "
      f"{k['tcp_inuse']:,}; TCP buffer pages "
      f"{k['tcp_mem_pages_before']:,} → {k['tcp_mem_pages_idle']:,} |")
    w(f"| **CPU for heartbeats** | **{c['cpu_s_per_s']:.4f} CPU s/s** "
      f"({c['pings_per_s']:,} PINGs/s answered, "
      f"{c['us_per_ping']:.1f} µs of edgelbd CPU per PING, everything "
      "else the loop did included; the machine's load average "
      f"{c.get('load1_start', '?')} → {c.get('load1_end', '?')} over the "
      f"window, on {sh('nproc')} CPUs) |")
    if k.get("mem_available_before_kb"):
        w(f"| MemAvailable (whole machine) | "
          f"{k['mem_available_before_kb'] / 1048576:,.1f} GiB before, "
          f"{k['mem_available_idle_kb'] / 1048576:,.1f} GiB at the end "
          "of the ramp |")
    w(f"| heartbeat timeouts | {d['heartbeat_timeouts']:,} |")
    if d.get("sysctl_changed"):
        w(f"| sysctls raised for the run (old values, put back) | "
          f"`{d['sysctl_changed']}` |")
    w("")
    if held < goal:
        tmo = d.get("heartbeat_timeouts", 0)
        if held < d["target"] <= d.get("peak", 0) and tmo:
            why = (f"the generators had all {d['target']:,} open and bound "
                   f"at their peak, but edgelbd closed {tmo:,} as heartbeat "
                   "timeouts (no frame read from the device for two "
                   "heartbeats) on this 2-CPU machine, whose load average "
                   f"was {c.get('load1_start', '?')} in the window")
        elif held < d["target"]:
            why = (f"{d['limit']} stopped the ramp" if d.get("limit") else
                   "the ramp's time bound passed")
        elif d.get("capped_by"):
            why = f"the target was capped by {d['capped_by']}"
        else:
            why = f"this run asked for {asked:,} only"
        extra = ""
        if m:
            extra = (f" The bytes added per connection from halfway to the "
                     f"end ({m['bytes_per_conn']:,}) against the whole "
                     f"ramp's ({bpc:,}) show how much of the figure is a "
                     "fixed cost that more connections would spread.")
        lead = ("were not all held to the end" if held < d["target"] <=
                d.get("peak", 0) and tmo else "were not reached")
        w(f"{goal:,} connections {lead}: {why}.{extra}\n")


def synflood_section(res, w):
    """The SYN flood figure (run.sh fig_synflood)."""
    w("## SYN flood\n")
    off, on = res.get("synflood", "off"), res.get("synflood", "on")
    if not any(r and r["status"] == "measured" for r in (off, on)):
        w(f"{reason(on or off)}\n")
        return
    d = (on or off or {}).get("data") or {}
    w("A spoofed SYN flood at the memif rig's full rate against the "
      "FULL-NAT service (10 backends, 100 local addresses, a table of "
      f"{d.get('conns', '?'):,} connections per worker), "
      f"{d.get('ratio', '?')} SYNs from random addresses of 100.64.0.0/10 "
      "per legitimate client's SYN, with the SYN proxy off and on. "
      "edgelb-gen (`--synflood`) plays the legitimate clients and the "
      "backends: it answers a backend's SYN with a SYN-ACK and a "
      "legitimate client's SYN-ACK with its ACK; a handshake *completes* "
      "when the backend gets the ACK of its SYN-ACK. The share is the "
      "completed handshakes over the legitimate SYNs sent; SYNs the "
      "worker did not take off its queue count as failures, as they "
      "would on the wire, and nobody sends a SYN again. The generator and "
      "the dataplane's worker share this machine's two cores, and both "
      "are saturated: a SYN, SYN-ACK or ACK lost at a full ring on the "
      "way is a handshake that does not complete. Each value: median "
      "(min–max) over the runs, each run on a fresh dataplane.\n")
    w("| SYN proxy | legitimate handshakes completing | legitimate SYNs answered (SYN-ACK back) | spoofed SYNs/s offered | cookies sent | conn table after the run | embryonic evicted | table full |")
    w("|---|---|---|---|---|---|---|---|")
    for key, r in (("off", off), ("on", on)):
        if r is None or r["status"] != "measured":
            w(f"| {key} | {reason(r)} | | | | | | |")
            continue
        rr = r["data"]["runs"]
        share = [100.0 * x["handshakes"] / x["legit_syns"] if x["legit_syns"] else None for x in rr]
        rate = [x["spoofed_syns"] / x["send_seconds"] if x["send_seconds"] else None for x in rr]
        ans = [100.0 * x["synacks_legit"] / x["legit_syns"] if x["legit_syns"] else None for x in rr]
        w(f"| {key} | **{fmt_spread(share, 1)} %** | {fmt_spread(ans, 1)} % | {fmt_spread(rate, 0)} | "
          f"{fmt_spread([x['dp']['cookies_sent'] for x in rr], 0)} | "
          f"{fmt_spread([x['dp']['conns'] for x in rr], 0)} | "
          f"{fmt_spread([x['dp']['evicted_syn'] for x in rr], 0)} | "
          f"{fmt_spread([x['dp']['table_full'] for x in rr], 0)} |")
    w("")
    c = res.get("synflood", "cookie_cycles")
    if c and c["status"] == "measured":
        rr = c["data"]["runs"]
        cyc = [x["dp"]["busy_cycles"] / x["dp"]["cookies_sent"] if x["dp"]["cookies_sent"] else None for x in rr]
        sps = [x["dp"]["cookies_sent"] / x["send_seconds"] if x["send_seconds"] else None for x in rr]
        w(f"**Cycles per SYN with cookies**: {fmt_spread(cyc, 0, bold=True)} "
          "busy cycles of the worker per SYN-ACK sent (a flood without "
          "legitimate clients, the proxy on; the worker's busy cycles over "
          "the cookies it sent, so receive, parse, SipHash, the SYN-ACK "
          f"and its transmission); {fmt_spread(sps, 0)} SYNs answered per "
          "second on this rig.\n")
    else:
        w(f"Cycles per SYN with cookies: {reason(c)}.\n")
    n = res.get("synflood", "newconn")
    if n and n["status"] == "measured":
        rr = n["data"]["runs"]
        cps = [x.get("handshakes_sending", x["handshakes"]) / x["send_seconds"] if x["send_seconds"] else None for x in rr]
        share = [100.0 * x["handshakes"] / x["legit_syns"] if x["legit_syns"] else None for x in rr]
        w(f"**New connections per second with the SYN proxy on**: "
          f"{fmt_spread(cps, 0, bold=True)} handshakes completed at the "
          "backends per second while the generator sent (legitimate clients "
          "only, `--synflood 0`, "
          f"at most {n['data']['conns'] // 2:,} frames from the generator "
          f"(SYNs and its answers) into a table of {n['data']['conns']:,} "
          "connections, which the run cannot fill; "
          "each is the client's SYN, the cookie SYN-ACK, the client's ACK, "
          "the proxy's SYN to the backend, its SYN-ACK and the proxy's ACK: "
          f"six frames through the worker); {fmt_spread(share, 1)} % of "
          "the SYNs sent completed.\n")
    else:
        w(f"New connections per second with the SYN proxy on: {reason(n)}.\n")


def render(res, args):
    smoke = args.smoke == "1"
    o = []
    w = o.append
    w("# edgelb benchmarks\n")
    if smoke:
        w("**Smoke run** (EDGELB_BENCH_SMOKE=1): tiny counts to prove the "
          "rig works; these numbers are not the figures.\n")
    w("Generated by `tests/bench/run.sh`; do not edit by hand. To "
      "reproduce every figure, run as root from a checkout:\n")
    w("```\ntests/bench/run.sh\n```\n")
    src = rig(res, "source")
    params = rig(res, "params")
    limit = params.get("inconclusive", 1.5)
    commit = src.get("commit", "not recorded")
    dirty = src.get("dirty_files")
    tree = ("the tree was clean" if dirty == 0 else
            f"**the tree differed from it in {dirty} tracked file(s)**"
            if dirty else "tree state not recorded")
    w(f"This run: `{args.command.strip()}` on "
      f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}"
      f", measuring commit `{commit}` ({tree}); {args.reps} run(s) of "
      f"{args.duration} s per memif throughput measurement. Every figure "
      "is given as the median over its runs with the minimum and maximum "
      "in brackets, *median (min–max)*; no single run stands for a "
      "figure (the machine is shared: runs differ).\n")
    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, v in machine(res):
        w(f"| {k} | {v} |")
    w("")
    names = {"dr": "DR", "nat": "NAT", "tunnel": "TUNNEL", "fnat": "FULL-NAT"}
    goals = own_section(res, w, limit, names)

    w("## How the memif figures are taken\n")
    w(f"""* **Rig.** `edgelb-dp` (or the baseline) owns one `net_memif`
  server port; `tests/lab/edgelb-gen` is the memif client on the other side.
  The generator sends 60-byte frames (64 on a wire) to the VIP
  10.0.0.100:80 from N flows (client 10.1.0.1 + i / 60000, port 1024 +
  i % 60000), receives what comes back and validates every frame for the
  mode (backend MAC for DR; backend address, port and both checksums for
  NAT/FULL-NAT, plus the local source address for FULL-NAT; the IPIP outer
  header and the untouched inner packet for TUNNEL; every flow on one
  backend where the client tuple survives). The service has
  {params.get('backends', '?')} backends (10.0.1.1.., Maglev), permanent
  neighbours for them, and for FULL-NAT {params.get('laddrs', '?')} local
  addresses. The memif driver copies every frame on receive and on send,
  so these figures include a driver cost the headline above leaves out.
* **Pinning.** The machine has few cores and the rig shares them: the
  dataplane runs `-l 0,1` (control thread on lcore 0, **one worker** on
  lcore 1), the generator runs on lcore 0 too. Whether a rate is what
  the worker can do or what the generator offered shows in the worker's
  *busy share* (its busy cycles over the TSC cycles of the generator's
  send window) and in the packets it found per RX burst (at most 32),
  printed with each figure: at a busy share of 1.00 with full bursts
  the worker set the rate; below, part of its time was idle and the
  Mpps figure is a lower bound set by the offered load.
* **Baseline.** `dpdk-testpmd` in `macswap` forward mode (one forwarding
  lcore on lcore 1, main lcore 0, the port looped on itself) on the same
  memif rig, with the same generator and frames, measured in the same
  invocation. The machine is shared and its speed drifts over minutes,
  so each edgelb run is paired with a baseline run taken just before it
  on a fresh testpmd and the ratio is taken per pair. The tables give
  the median ratio over the pairs with its minimum and maximum, and the
  same for the baseline rates. A figure whose ratios spread by more than
  {fmt(limit, 1)}× (max/min) is marked **inconclusive**: the machine,
  not edgelb, decides where one run lands in such a range.
* **Busy cycles per packet** (the headline of each memif table) come
  from the worker's own counters (`STATS_GET`: `busy_cycles_total` /
  `rx_packets_total`, TSC cycles in poll iterations that handled
  packets), zeroed after a warm-up pass that sends every flow once, so
  that the measurement sees established connections. They do not depend
  on the generator or on the baseline; their spread is printed with
  them.
* **Bounded.** Every generator run stops after `--count` frames or
  `--duration` seconds; every process is stopped by its pid at the end.
* A figure that cannot be taken yet is printed as *not measured* with
  the reason; no number here is estimated or carried over.
""")
    w("## Goals and peers\n")
    w("| what | goal | this run | peers, for context |\n|---|---|---|---|")
    w(f"| own cycles per packet, FULL-NAT, 1M flows | ≤ 250 | {goals.get('fnat', '-')} | Maglev paper: ~350 ns/packet |")
    w(f"| own cycles per packet, DR, 1M flows | ≤ 100 | {goals.get('dr', '-')} | |")
    w(f"| new TCP connections per second per worker, every mode | ≥ 1M | {goals.get('newconn', '-')} | DPVS: 200k per core |")
    w("| forwarded rate per mode on the memif rig | ≥ 0.8 × the rig baseline | figure 1 | DPVS FULL-NAT 2.9 Mpps per core; Katran 5.2 Mpps per core |")
    w("| memory per tracked connection | ≤ 200 bytes | figure 3 | |")
    w("| Maglev table build (M=65537) | ≤ 1 ms, max/avg share ≤ 1.01 | figure 4 | Maglev paper: 1.8 ms (M=65537, N=1000) |")
    w("| API gateway req/s and CPU per request, 1,000 routes | ≥ 1.0 × nginx, ≥ 0.8 × HAProxy | figure 8 | nginx proxy_pass, HAProxy, same run |")
    w("")

    # ---- baseline
    w("## Baseline: dpdk-testpmd macswap on the same rig\n")
    w("| flows | Mpps | every run, Mpps |\n|---|---|---|")
    for r in res.of("baseline"):
        if r["status"] != "measured":
            w(f"| {r['key']} | {reason(r)} | |")
            continue
        d = r["data"]
        w(f"| {d['flows']:,} | {fmt_spread(col(d, 'mpps'), 3)} | {runs(d)} |")
    if not res.of("baseline"):
        w("| | not run | |")
    w("")

    # ---- figure 1
    w("## 1. Forwarding on the memif rig per mode (one worker, UDP)\n")
    w("Each run is paired with a baseline run taken just before it (same "
      "flows, same rig). Columns give *median (min–max)* over the runs; "
      "*ratio* is taken per pair. *Every run* lists edgelb's Mpps / the "
      "paired baseline's Mpps (busy cycles/packet). *Busy share* near 1 "
      "means the worker, not the offered load, set the rate. Invalid "
      "frames and the dataplane's drop counters are summed over the "
      "runs.\n")
    w("| mode | flows | **busy cycles/packet** | Mpps | ratio to baseline | "
      "paired baseline Mpps | busy share | packets per RX burst | every run | "
      "invalid frames | dataplane drops |"
      "\n|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res.of("modes"):
        mode, _, flows = r["key"].partition("/")
        if r["status"] != "measured":
            w(f"| {names.get(mode, mode)} | {flows or '-'} | {reason(r)} | | | | | | | | |")
            continue
        d = r["data"]
        ratios = col(d, "ratio")
        flag = f" **inconclusive** (max/min {fmt(max(ratios) / min(ratios), 1)})" \
            if inconclusive(ratios, limit) else ""
        w(f"| {names[mode]} | {int(flows):,} | "
          f"{fmt_spread(col(d, 'cycles'), 0, bold=True)} | "
          f"{fmt_spread(col(d, 'mpps'), 3)} | "
          f"{fmt_spread(ratios, 2) if ratios else 'no baseline'}{flag} | "
          f"{fmt_spread(col(d, 'baseline_mpps'), 2)} | "
          f"{fmt_spread(col(d, 'busy_share'), 2)} | "
          f"{fmt_spread(col(d, 'per_burst'), 1)} | {runs(d)} | "
          f"{sum(col(d, 'invalid'))} | {sum(col(d, 'drops')):,} |")
    rc = res.get("rx_classify", "dr")
    if rc:
        d = rc["data"]
        rate = d["dp_rx_packets"] / d["send_seconds"]
        w("")
        w("Meanwhile, what the worker costs without a forwarding stage "
          "(receive, parse, classify as a service's packet, count and "
          f"free), same rig, {d['flows']:,} flows, one run: "
          f"{fmt(d['dp_busy_cycles'] / d['dp_rx_packets'], 0)} busy "
          f"cycles/packet, {fmt(rate / 1e6, 3)} Mpps taken in. This is not "
          "figure 1: nothing is forwarded.")
    w("")

    # ---- figure 2
    w("## 2. New TCP connections per second on the memif rig (one worker)\n")
    w("Each connection is a fresh client tuple sending SYN, then the ACK of "
      "its handshake; a connection counts when its forwarded SYN comes "
      "back valid. Each run on a fresh dataplane.\n")
    w("| mode | conns/s | every run, conns/s | dataplane conns created (median run) | invalid frames |\n|---|---|---|---|---|")
    for r in res.of("newconn"):
        if r["status"] != "measured":
            w(f"| {names.get(r['key'], r['key'])} | {reason(r)} | | | |")
            continue
        d = r["data"]
        every = ", ".join(f"{x['syn_per_s']:,}" for x in d.get("runs", [])
                          if "syn_per_s" in x)
        w(f"| {names[r['key']]} | {fmt_spread(col(d, 'syn_per_s'), 0)} | {every} | "
          f"{d['dp_conns_created']:,} | {sum(col(d, 'invalid'))} |")
    w("")

    # ---- figure 3
    w("## 3. Memory per tracked connection\n")
    t = res.get("conn", "table")
    if t and t["status"] == "measured":
        d = t["data"]
        w("Measured on the dataplane's own connection table "
          "(`conn_table_create` of a worker: the rte_hash holding an in "
          "and an out entry per connection, and the array of `struct "
          f"conn`; `struct conn` is {d['conn_struct_bytes']} bytes, a "
          f"key {d['key_bytes']}), as DPDK heap bytes allocated, then "
          "filled with FULL-NAT connections (two entries each); insert "
          "and lookup times are per connection on one core, first touch "
          "of the memory included.\n")
        w("| connections | heap | bytes per connection | insert ns | lookup ns |\n|---|---|---|---|---|")
        for x in d["results"]:
            w(f"| {x['conns']:,} | {fmt(x['heap_bytes'] / 1048576, 1)} MiB | "
              f"**{fmt(x['bytes_per_conn'], 1)}** | {fmt(x['insert_ns'], 0)} | "
              f"{fmt(x['lookup_ns'], 0)} |")
    else:
        w(reason(t))
    w("")
    w("Forwarding with the table holding that many NAT connections "
      "(`[dataplane] max_conns` sized for them; a warm-up pass sends "
      "every flow once, then the measurement runs over the same flows):\n")
    w("| connections | **busy cycles/packet** | Mpps | ratio to baseline | busy share | every run | invalid frames | dataplane drops |\n|---|---|---|---|---|---|---|---|")
    for r in res.of("conn_mpps"):
        if r["status"] != "measured":
            w(f"| {int(r['key']):,} | {reason(r)} | | | | | | |")
            continue
        d = r["data"]
        ratios = col(d, "ratio")
        flag = " **inconclusive**" if inconclusive(ratios, limit) else ""
        w(f"| {int(r['key']):,} | {fmt_spread(col(d, 'cycles'), 0, bold=True)} | "
          f"{fmt_spread(col(d, 'mpps'), 3)} | "
          f"{fmt_spread(ratios, 2) if ratios else 'no baseline'}{flag} | "
          f"{fmt_spread(col(d, 'busy_share'), 2)} | {runs(d)} | "
          f"{sum(col(d, 'invalid'))} | {sum(col(d, 'drops')):,} |")
    w("")

    # ---- figure 4
    w("## 4. Maglev table: build time, balance, disruption\n")
    m = res.get("maglev", "all")
    if m and m["status"] == "measured":
        w("`tests/bench/bench_maglev`: the `mh` scheduler's own `create()`, "
          "equal weights. Build: median of the runs (minimum in "
          "brackets). Balance: the largest backend's share over the "
          "average. Disruption: when 1%/5%/10% of the backends fail "
          "(weight 0), the share of the table that moves although its "
          "backend is still alive (beyond the failed backends' own slots, "
          "which must move).\n")
        w("| M | N | build ms | max/avg | extra moved, 1% fail | 5% | 10% |\n|---|---|---|---|---|---|---|")
        for x in m["data"]["results"]:
            dis = [f"{fmt(100 * y['extra_moved'], 2)}%" for y in x["disruption"]]
            w(f"| {x['M']:,} | {x['N']:,} | {fmt(x['build_ms_median'], 3)} "
              f"({fmt(x['build_ms_min'], 3)}) | {fmt(x['balance_max_over_avg'], 4)} | "
              f"{' | '.join(dis)} |")
    else:
        w(reason(m))
    w("")

    # ---- figure 5
    w("## 5. Control plane: programming services\n")
    c = res.get("ctrl", "dp")
    if c and c["status"] == "measured":
        d = c["data"]
        w(f"`tests/bench/bench_ctrl` on **edgelb-dp's dp.sock directly**: "
          f"{d['services']:,} services × {d['backends_per_service']} "
          f"backends (scheduler {d['sched']}), one request in flight, each "
          "acknowledged before the next; then a SERVICE_GET dump that "
          "must list them all, then SERVICE_FLUSH. *batch*: one "
          "SERVICE_NEW with its BACKENDS list per service; *incremental*: "
          "SERVICE_NEW then one BACKEND_NEW per backend.\n")
        w("| method | requests | seconds | requests/s | µs/request | dump s | flush s |\n|---|---|---|---|---|---|---|")
        for x in d["results"]:
            w(f"| {x['method']} | {x['requests']:,} | **{fmt(x['seconds'], 3)}** | "
              f"{fmt(x['requests_per_s'], 0)} | {fmt(x['us_per_request'], 1)} | "
              f"{fmt(x['dump_seconds'], 3)} | {fmt(x['flush_seconds'], 3)} |")
    else:
        w(reason(c))
    e = res.get("ctrl", "edgelbd")
    if e and e["status"] == "measured":
        d = e["data"]
        w("")
        w(f"**Through edgelbd**: the same requests to edgelbd's ctl.sock "
          "(each changes the desired state, which edgelbd applies to the "
          "dataplane); *until the dataplane has it* is the time from the "
          "first request until edgelb-dp's own dump lists every service "
          "and backend.\n")
        w("| method | requests | seconds (acknowledged) | requests/s | until the dataplane has it, s |\n|---|---|---|---|---|")
        for x in d["results"]:
            w(f"| {x['method']} | {x['requests']:,} | {fmt(x['seconds'], 3)} | "
              f"{fmt(x['requests_per_s'], 0)} | **{fmt(x.get('dp_seconds'), 3)}** |")
    elif e:
        w("")
        w(f"Through edgelbd: {reason(e)}.")
    w("")

    # ---- figure 6
    w("## 6. End to end: HTTP through the namespace lab\n")
    w(f"`wrk -t1 -c32 -d{params.get('wrk_seconds', '?')}s` from the lab's "
      "client namespace to the VIP, through the router, to the three "
      "backends' `lab-backend` (tests/lab/lab.sh), with edgelb and with the "
      "kernel's nftables DNAT on the same topology (`tests/lab/lab.sh up nat "
      f"--lb kernel`). {params.get('e2e_reps', '?')} rounds, each "
      "nftables, then edgelb NAT, then edgelb FULL-NAT, every lab brought "
      "up afresh; a ratio is taken within a round. wrk's socket errors "
      "and non-2xx/3xx responses are printed for every run: **a run with "
      "errors is not a figure** and is left out of the medians and "
      "ratios.\n")
    e = res.get("e2e", "all")
    labels = {"kernel/nat": "nftables DNAT (kernel)", "dp/nat": "edgelb NAT",
              "dp/fnat": "edgelb FULL-NAT"}
    if e and e["status"] == "measured":
        rr = e["data"]["runs"]

        def errs(x):
            return sum(x["socket_errors"].values()) + x["non_2xx"]

        w("| round | load balancer | requests/s | p99 latency | socket errors (connect/read/write/timeout) | non-2xx | ratio to the round's nftables run |")
        w("|---|---|---|---|---|---|---|")
        kern = {x["round"]: x for x in rr if x["lb"] == "kernel/nat"}
        ratios = {}
        for x in rr:
            se = x["socket_errors"]
            k = kern.get(x["round"])
            ratio = "-"
            if x["lb"] != "kernel/nat" and k and not errs(k) and not errs(x):
                ratio = fmt(x["requests_per_s"] / k["requests_per_s"], 2)
                ratios.setdefault(x["lb"], []).append(
                    x["requests_per_s"] / k["requests_per_s"])
            elif errs(x):
                ratio = "not a figure (errors)"
            w(f"| {x['round']} | {labels.get(x['lb'], x['lb'])} | "
              f"{fmt(x['requests_per_s'], 0)} | {fmt(x['p99_ms'], 2)} ms | "
              + ("/".join(str(se.get(t, 0)) for t in
                          ("connect", "read", "write", "timeout")) if se else "0")
              + f" | {x['non_2xx']} | {ratio} |")
        w("")
        w("| load balancer | requests/s | p99 ms | ratio to nftables |\n|---|---|---|---|")
        for lb, lab in labels.items():
            ok = [x for x in rr if x["lb"] == lb and not errs(x)]
            if not ok:
                w(f"| {lab} | no run without errors | | |")
                continue
            rt = ratios.get(lb, [])
            flag = " **inconclusive**" if inconclusive(rt, limit) else ""
            w(f"| {lab} | {fmt_spread([x['requests_per_s'] for x in ok], 0)} | "
              f"{fmt_spread([x['p99_ms'] for x in ok], 2)} | "
              f"{(fmt_spread(rt, 2) + flag) if rt else '-'} |")
    else:
        for r in res.of("e2e"):
            w(f"* {labels.get(r['key'], r['key'])}: {reason(r)}")
        if not res.of("e2e"):
            w(reason(None))
    w("")

    # ---- figure 7
    http_route_section(res, w, limit)

    # ---- figures 8 and 9: the API gateway
    gateway_section(res, w, limit)
    gw_lookup_section(res, w)
    gw_filters_section(res, w, limit)
    gw_redis_section(res, w, limit)
    synflood_section(res, w)

    # ---- the push service
    push_deliver_section(res, w)
    push_idle_section(res, w)

    # ---- what limits the figures, from this run's own numbers
    w("## What limits these figures\n")
    shares, tp, mine, bursts = [], [], {}, []
    for r in res.of("modes"):
        if r["status"] != "measured":
            continue
        d = r["data"]
        shares += col(d, "busy_share")
        bursts += col(d, "per_burst")
        hz = d.get("dp_tsc_hz")
        tp += [hz / (b * 1e6) for b in col(d, "baseline_mpps") if hz and b]
        mode, _, flows = r["key"].partition("/")
        if int(flows) == min(int(x["key"].partition("/")[2])
                             for x in res.of("modes") if "/" in x["key"]):
            mine[mode] = spread(col(d, "cycles"))
    if shares:
        lo, med, hi = spread(shares)
        full = 0.95
        w("* **Worker or offered load.** The worker's busy share over the "
          f"figure-1 runs was {fmt(med, 2)} ({fmt(lo, 2)}–{fmt(hi, 2)}). "
          + (f"Every run was at or above {full}: the worker, not the "
             "generator, set those rates."
             if lo >= full else
             f"{sum(1 for x in shares if x < full)} of {len(shares)} runs "
             f"were below {full}: in those the generator (which shares "
             "lcore 0 with the dataplane's control thread) did not keep "
             "the worker busy, and their Mpps are lower bounds set by the "
             "offered load."))
    if shares and bursts:
        lo, med, hi = spread(shares)
        w("* **What busy cycles per packet mean on this rig.** Busy cycles "
          "per packet × Mpps / TSC MHz is the busy share above: "
          f"{fmt(med, 2)} ({fmt(lo, 2)}–{fmt(hi, 2)}) over the figure-1 "
          "runs, with "
          f"{fmt(spread(bursts)[1], 1)} ({fmt(spread(bursts)[0], 1)}–"
          f"{fmt(spread(bursts)[2], 1)}) packets per RX burst. In a run "
          "whose share is near 1.00 the busy cycles per packet are the TSC "
          "rate divided by the packet rate: they move with the rate exactly "
          "as much as the machine's drift moves it (and with bursts far "
          "from full they spread the poll loop's per-iteration work over "
          "few packets). The memif figures therefore cannot rank the "
          "modes' own work; the headline section measures it without a "
          "driver.")
    if mine:
        w("* **The work.** The baseline only swaps MAC addresses; edgelb "
          "parses every header, looks up the service and the connection, "
          "rewrites and updates checksums. Busy cycles per packet with "
          "the fewest flows, median: "
          + ", ".join(f"{names[m]} {fmt(v[1], 0)}" for m, v in mine.items() if v)
          + " (driver included; the headline gives the same work without "
          "it).")
    # what the rig itself costs a packet: the baseline forwards at most
    # TSC Hz / its rate cycles per packet (receive, swap, send)
    if tp:
        lo, med, hi = spread(tp)
        w("* **What the rig costs a packet.** In the paired baseline runs "
          f"testpmd spent at most {fmt(med, 0)} ({fmt(lo, 0)}–{fmt(hi, 0)}) "
          "TSC cycles per packet (TSC rate over its packet rate: an upper "
          "bound, since its forwarding lcore is never idle while the "
          "generator sends; the range is the machine's drift). That is the "
          "memif driver's work (every frame is copied through the shared "
          "rings on receive and on send) plus a swap of two MAC addresses; "
          "edgelb pays the same driver cost, and its busy cycles per packet "
          "above include it. A ratio of 0.8 to that forwarder would leave "
          f"edgelb {fmt(med * 0.25, 0)} ({fmt(lo * 0.25, 0)}–"
          f"{fmt(hi * 0.25, 0)}) cycles of its own (a quarter of "
          "testpmd's), which is why the own-cost goals are judged on the "
          "headline rig, not on this one.")
    t = res.get("conn", "table")
    if t and t["status"] == "measured":
        x = t["data"]["results"][0]
        w(f"* **The connection table.** A lookup costs about "
          f"{fmt(x['lookup_ns'], 0)} ns and an insert {fmt(x['insert_ns'], 0)} ns "
          f"with {x['conns']:,} connections, one at a time (figure 3). The "
          "worker looks a whole burst of packets up at once "
          "(`rte_hash_lookup_bulk_data`), which overlaps those cache "
          "misses, and prefetches the connections found; NAT and FULL-NAT "
          "replies are looked up the same way. A new connection adds a "
          "lookup and two inserts (in and out tuple) at random places in "
          "the table, which is what bounds figure 2.")
        cb = t['data']['conn_struct_bytes']
        w(f"* **Memory per connection.** `struct conn` is {cb} bytes (one "
          "cache line, in the table's own array, plus a 4-byte index on "
          "the free stack); the rest of the "
          f"{fmt(x['bytes_per_conn'], 0)} bytes is the rte_hash, sized for "
          "two entries per connection: a 32-byte key slot each (16-byte "
          "key and the data pointer, aligned), a bucket slot with its "
          "signature and a free-slot ring entry, the last two at "
          "power-of-two sizes. "
          + ("That is within the 200-byte goal."
             if x["bytes_per_conn"] <= 200 else
             "That is over the 200-byte goal."))
    big = [r for r in res.of("conn_mpps") if r["status"] == "measured"]
    if big:
        top = max(big, key=lambda r: int(r["key"]))
        worst = spread(col(top["data"], "cycles"))
        huge = dpdk_memory(res)[1]
        if huge:
            why = ("lookups in a table that size miss the caches. The rig "
                   "runs DPDK on 2 MiB hugepages, as production does, so "
                   "few of them miss the TLB as well.")
        elif huge is False:
            why = ("this run used DPDK with `--no-huge` (4 KiB pages; see "
                   "*DPDK memory* above), so lookups in a table that size "
                   "miss the TLB as well as the caches. Production runs use "
                   "2 MiB hugepages (`tools/setup.sh` reserves them), as "
                   "does this rig when the kernel can give them.")
        else:
            why = "lookups in a table that size miss the caches."
        w("* **Large tables.** With "
          f"{int(top['key']):,} tracked connections a packet costs "
          f"{fmt(worst[1], 0)} busy cycles (median; "
          f"{fmt(worst[0], 0)}–{fmt(worst[2], 0)}): {why}")
    w("")

    pending = [r for r in res.rows if r["status"] != "measured"]
    w("## Not measured in this run\n")
    if not pending:
        w("Everything was measured.")
    for r in pending:
        w(f"* {r['figure']} {r['key']}: {r['status']}: {r['reason']}")
    w("")
    return "\n".join(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--smoke", default="0")
    ap.add_argument("--duration", default="?")
    ap.add_argument("--reps", default="1")
    args = ap.parse_args()
    text = render(Results(args.results), args)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
