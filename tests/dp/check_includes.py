#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Includes point one way: no two modules of a folder include each other.

A module is a stem: foo.c and foo.h (and its private header foo_priv.h or
foo_private.h) are module foo; a .c file without a header of its own
(fwd_dr.c, main.c) is a module that nobody can include. Module A depends
on module B when a file of A has `#include "B.h"` (only headers of the
same folder count). Any cycle in that graph, of two modules or more, is
an error: each is printed with the include lines that close it.

Usage: check_includes.py DIR...   Exit 0 when no folder has a cycle, 1
when one has, 2 on a usage error (a folder that does not exist or holds
no C file).
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)\.h"')


def module(name):
    stem = name.rsplit(".", 1)[0]
    for suffix in ("_private", "_priv"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def graph(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith((".c", ".h")))
    headers = {f[:-2] for f in files if f.endswith(".h")}
    edges = {}  # module -> {module: [(file, line, text)]}
    for f in files:
        a = module(f)
        edges.setdefault(a, {})
        with open(os.path.join(folder, f), encoding="utf-8") as fh:
            for n, text in enumerate(fh, 1):
                m = INCLUDE.match(text)
                if m is None or m.group(1) not in headers:
                    continue
                b = module(m.group(1) + ".h")
                if b != a:
                    edges[a].setdefault(b, []).append((f, n, text.strip()))
    return files, edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad = 0
    for folder in argv[1:]:
        if not os.path.isdir(folder):
            print(f"{folder}: not a folder", file=sys.stderr)
            return 2
        files, edges = graph(folder)
        if not files:
            print(f"{folder}: no C files", file=sys.stderr)
            return 2
        found = cycles(edges)
        nedges = sum(len(v) for v in edges.values())
        print(f"{folder}: {len(edges)} modules, {nedges} dependencies, "
              f"{len(found)} cycle(s)")
        for comp in found:
            bad += 1
            print(f"  cycle: {' <-> '.join(comp)}")
            for a in comp:
                for b in sorted(edges[a]):
                    if b in comp:
                        for f, n, text in edges[a][b]:
                            print(f"    {folder}/{f}:{n}: {text}"
                                  f"  ({a} -> {b})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
