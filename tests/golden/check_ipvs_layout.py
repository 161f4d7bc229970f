#!/usr/bin/env python3
"""Checks the ipvsadm-style golden files against ipvsadm's own layout.

test_lbctl compares lbctl's output byte for byte with tests/golden/, but
lbctl wrote those files, so that comparison alone cannot show that the
layout is ipvsadm's. This script parses each ipvsadm_*.txt golden file
and prints it again with the printf formats of ipvsadm 1.31 (Debian 12's
/usr/sbin/ipvsadm: the strings below are in that binary, and in
ipvsadm.c's print_title(), print_service_entry(), print_largenum() and
list_all()), then requires the result to be byte-identical to the file.
A column moved by one blank, a wrong number scale or a misspelt title
fails. The only words ipvsadm does not print are edgelb's FULL-NAT
forwarding method: "FullNat" in -L and "--fnat" in -S, and the thresholds
"-x N"/"-y N" that lbctl -S adds to a real server's line (ipvsadm -S
omits them, so its output loses them); they are reported.

Usage: check_ipvs_layout.py GOLDEN_DIR
"""
import ipaddress
import os
import re
import sys

# Every ipvsadm golden file and the ipvsadm options it stands for.
FILES = {
    "ipvsadm_list.txt": "list",  # -L -n
    "ipvsadm_list_one.txt": "list",  # -L -n -t VIP:PORT (no version line)
    "ipvsadm_list_none.txt": "none",  # -L -n -t of a missing service
    "ipvsadm_list_stats.txt": "stats",  # -L -n --stats
    "ipvsadm_list_stats_exact.txt": "stats-exact",  # --stats --exact
    "ipvsadm_list_rate.txt": "rate",  # -L -n --rate
    "ipvsadm_save.txt": "save",  # -S -n
    "ipvsadm_list_thresholds.txt": "thresholds",  # -L -n --thresholds
    "ipvsadm_save_thresholds.txt": "save",  # -S -n, backends with -x/-y
}

# ipvsadm's fwd_name() and fwd_switch(), and edgelb's FULL-NAT extension.
FWD_NAMES = {"Masq", "Local", "Tunnel", "Route"}
FWD_SWITCHES = {"-m", "-i", "-g"}
EXT_FWD_NAME, EXT_SWITCH = "FullNat", "--fnat"
EXT_THRESH = "-x/-y in -S"

VERSION_LINE = "IP Virtual Server version %d.%d.%d (size=%d)"
LIST_TITLE = ("Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
STATS_TITLE = ("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port" %
               ("Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts",
                "InBytes", "OutBytes"))
THRESH_TITLE = ("%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port" %
                ("Prot LocalAddress:Port", "Uthreshold", "Lthreshold",
                 "ActiveConn", "InActConn"))
RATE_TITLE = ("%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port" %
              ("Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS",
               "OutBPS"))


class Bad(Exception):
    pass


def is_v6(addrport):
    return addrport.startswith("[")


def check_addrport(s):
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\]:(\d+)|([0-9.]+):(\d+)", s)
    if m is None:
        raise Bad("not ADDR:PORT: %r" % s)
    addr = m.group(1) or m.group(3)
    ipaddress.ip_address(addr)  # raises on a bad address
    # -n prints inet_ntop's form; an address printed any other way is wrong
    if str(ipaddress.ip_address(addr)) != addr:
        raise Bad("%r is not in inet_ntop form" % addr)


def largenum(tok, exact):
    """print_largenum(): the token again, printed the way ipvsadm would."""
    if exact:
        if not tok.isdigit():
            raise Bad("--exact number %r" % tok)
        return "%*d" % (9 if len(tok) <= 8 else len(tok) + 1, int(tok))
    if tok.isdigit():
        if int(tok) >= 100000000:
            raise Bad("%s should have been scaled" % tok)
        return "%9d" % int(tok)
    m = re.fullmatch(r"(\d+)([KMGT])", tok)
    if m is None:
        raise Bad("number %r" % tok)
    v, unit = int(m.group(1)), m.group(2)
    # the ranges print_largenum() gives each unit
    lo, hi = {"K": (100000, 999999), "M": (1000, 99999),
              "G": (100, 99999), "T": (100, None)}[unit]
    if v < lo or (hi is not None and v > hi):
        raise Bad("%s: %d%s is outside the range ipvsadm prints as %s" %
                  (tok, v, unit, unit))
    return "%8d%s" % (v, unit)


def svc_name(proto, addrport):
    if proto not in ("TCP", "UDP"):
        raise Bad("protocol %r" % proto)
    check_addrport(addrport)
    name = "%s  %s" % (proto, addrport)
    return name if is_v6(addrport) else name[:33]


def dest_name(addrport, v6):
    check_addrport(addrport)
    return addrport if v6 else addrport[:28]


def render(kind, lines, ext):
    """Print the parsed lines again with ipvsadm's formats."""
    out = []
    i = 0
    if kind == "none":
        return []
    if kind == "save":
        for ln in lines:
            t = ln.split()
            if t[:1] == ["-A"]:
                m = re.fullmatch(r"-A (-[tu]) (\S+) -s (\S+)( -p (\d+))?"
                                 r"( --fnat)?", ln)
                if m is None:
                    raise Bad("-A line %r" % ln)
                check_addrport(m.group(2))
                s = "-A %s %s -s %s" % (m.group(1), m.group(2), m.group(3))
                if m.group(4):
                    s += " -p %d" % int(m.group(5))
                if m.group(6):
                    ext.add(EXT_SWITCH)
                    s += " " + EXT_SWITCH
                out.append(s)
            elif t[:1] == ["-a"]:
                m = re.fullmatch(r"-a (-[tu]) (\S+) -r (\S+) (\S+) -w (\d+)"
                                 r"( -x (\d+))?( -y (\d+))?", ln)
                if m is None:
                    raise Bad("-a line %r" % ln)
                check_addrport(m.group(2))
                check_addrport(m.group(3))
                sw = m.group(4)
                if sw == EXT_SWITCH:
                    ext.add(EXT_SWITCH)
                elif sw not in FWD_SWITCHES:
                    raise Bad("forwarding switch %r" % sw)
                s = "-a %s %s -r %s %s -w %d" % (m.group(1), m.group(2),
                                                 m.group(3), sw,
                                                 int(m.group(5)))
                if m.group(6):
                    ext.add(EXT_THRESH)
                    s += " -x %d" % int(m.group(7))
                if m.group(8):
                    ext.add(EXT_THRESH)
                    s += " -y %d" % int(m.group(9))
                out.append(s)
            else:
                raise Bad("line %r" % ln)
        return out

    m = re.fullmatch(r"IP Virtual Server version (\d+)\.(\d+)\.(\d+) "
                     r"\(size=(\d+)\)", lines[0])
    if m:
        out.append(VERSION_LINE % tuple(int(x) for x in m.groups()))
        i = 1
    title = {"list": LIST_TITLE, "thresholds": THRESH_TITLE,
             "stats": STATS_TITLE,
             "stats-exact": STATS_TITLE, "rate": RATE_TITLE}[kind]
    out += title.split("\n")
    i += 2
    exact = kind == "stats-exact"
    v6 = False
    for ln in lines[i:]:
        t = ln.split()
        if ln.startswith("  -> "):
            name = dest_name(t[1], v6)
            if kind == "list":
                if len(t) != 6:
                    raise Bad("real server line %r" % ln)
                fwd = t[2]
                if fwd == EXT_FWD_NAME:
                    ext.add(EXT_FWD_NAME)
                elif fwd not in FWD_NAMES:
                    raise Bad("forwarding method %r" % fwd)
                out.append("  -> %-28s %-7s %-6d %-10d %-10d" %
                           (name, fwd, int(t[3]), int(t[4]), int(t[5])))
            elif kind == "thresholds":
                if len(t) != 6:
                    raise Bad("real server line %r" % ln)
                out.append("  -> %-28s %-10d %-10d %-10d %-10d" %
                           (name, int(t[2]), int(t[3]), int(t[4]),
                            int(t[5])))
            elif kind == "rate":
                if len(t) != 7:
                    raise Bad("real server line %r" % ln)
                out.append("  -> %-28s %8d %8d %8d" %
                           (name, int(t[2]), int(t[3]), int(t[4])) +
                           largenum(t[5], exact) + largenum(t[6], exact))
            else:
                if len(t) != 7:
                    raise Bad("real server line %r" % ln)
                out.append("  -> %-28s" % name +
                           "".join(largenum(x, exact) for x in t[2:]))
        else:
            v6 = is_v6(t[1]) if len(t) > 1 else False
            name = svc_name(t[0], t[1])
            if kind in ("list", "thresholds"):
                m = re.fullmatch(r"\S+  \S+ (\S+)( persistent (\d+))?", ln)
                if m is None:
                    raise Bad("service line %r" % ln)
                s = "%s %s" % (name, m.group(1))
                if m.group(2):
                    s += " persistent %d" % int(m.group(3))
                out.append(s)
            else:
                if len(t) != 7:
                    raise Bad("service line %r" % ln)
                out.append("%-33s" % name +
                           "".join(largenum(x, exact) for x in t[2:]))
    return out


def main():
    gdir = sys.argv[1]
    bad = 0
    present = sorted(f for f in os.listdir(gdir)
                     if f.startswith("ipvsadm") and f.endswith(".txt"))
    for f in present:
        if f not in FILES:
            print("%s: not in check_ipvs_layout.py's FILES table" % f)
            bad += 1
    for f, kind in FILES.items():
        path = os.path.join(gdir, f)
        with open(path) as fp:
            text = fp.read()
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        ext = set()
        try:
            if kind != "none" and not lines:
                raise Bad("empty")
            want = render(kind, lines, ext)
        except (Bad, ValueError, IndexError) as e:
            print("%s: FAIL: %s" % (f, e))
            bad += 1
            continue
        if want != lines:
            for n, (a, b) in enumerate(zip(lines, want), 1):
                if a != b:
                    print("%s:%d: FAIL:\n  file:    %r\n  ipvsadm: %r" %
                          (f, n, a, b))
                    break
            else:
                print("%s: FAIL: %d lines, ipvsadm's layout gives %d" %
                      (f, len(lines), len(want)))
            bad += 1
            continue
        note = " (edgelb extensions: %s)" % ", ".join(sorted(ext)) if ext else ""
        print("%s: ok, %d lines in ipvsadm's layout%s" % (f, len(lines), note))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
