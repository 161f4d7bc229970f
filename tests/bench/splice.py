#!/usr/bin/env python3
"""Put the sections of a partial benchmark report into the full one.

    splice.py --partial P --into F --heading "## 8." [--heading ...] --note N

A run of some figures only (run.sh --only LIST --splice) renders a report
in which every other figure reads "not run". This replaces, in F, each
section whose heading line starts with one of the given headings (up to
the next "## " heading) by the same section of P, with N as its first
paragraph, so the file says which figures come from which run. F keeps
every other section as its own run wrote it. A heading missing from
either file is an error: nothing is written.
"""
import argparse
import os
import sys


def sections(text):
    """[(heading line or None, lines)] in order."""
    out = [(None, [])]
    for line in text.split("\n"):
        if line.startswith("## "):
            out.append((line, [line]))
        else:
            out[-1][1].append(line)
    return out


def find(secs, prefix):
    for i, (h, _) in enumerate(secs):
        if h is not None and h.startswith(prefix):
            return i
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--partial", required=True)
    ap.add_argument("--into", required=True)
    ap.add_argument("--heading", action="append", required=True)
    ap.add_argument("--note", required=True)
    args = ap.parse_args()
    with open(args.partial) as f:
        part = sections(f.read())
    with open(args.into) as f:
        full = sections(f.read())
    for prefix in args.heading:
        i, j = find(full, prefix), find(part, prefix)
        if i < 0 or j < 0:
            sys.exit(f"splice: no section '{prefix}' in "
                     f"{args.into if i < 0 else args.partial}")
        lines = part[j][1]
        full[i] = (full[i][0], [lines[0], "", f"*{args.note}*"] + lines[1:])
    text = "\n".join("\n".join(lines) for _, lines in full)
    tmp = args.into + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.into)


if __name__ == "__main__":
    main()
