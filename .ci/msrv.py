#!/usr/bin/env python3
"""The declared MSRV against what the dependencies declare.

Only one Rust toolchain is installed where CI runs, so the declared `rust-version` of each
published crate is checked the two ways that need no other toolchain: here, that no crate in its
normal dependency closure (on x86_64 Linux, as locked) declares a newer `rust-version`; and by
clippy's `incompatible_msrv` lint (run with -D warnings), that our code calls no standard-library
item stabilised after it.
"""
import json
import subprocess
import sys

OURS = ["sio-proto", "sio", "sio-tokio", "sio-async-std", "sio-redis"]


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked",
         "--filter-platform", "x86_64-unknown-linux-gnu"],
        check=True, capture_output=True, text=True,
    ).stdout
)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
failed = False
for name in OURS:
    root = next(p for p in meta["packages"] if p["name"] == name)
    declared = root.get("rust_version")
    if not declared:
        print(f"{name}: no rust-version declared")
        failed = True
        continue
    seen, stack = set(), [root["id"]]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for d in nodes[i]["deps"]:
            if any(k["kind"] is None for k in d["dep_kinds"]):
                stack.append(d["pkg"])
    newer = sorted(
        (packages[i]["rust_version"], packages[i]["name"], packages[i]["version"])
        for i in seen
        if i != root["id"]
        and packages[i].get("rust_version")
        and version(packages[i]["rust_version"]) > version(declared)
    )
    needed = max(
        (version(packages[i]["rust_version"]) for i in seen if packages[i].get("rust_version")),
        default=(0, 0, 0),
    )
    if newer:
        failed = True
        print(f"{name}: declares rust-version {declared}, but these dependencies need more:")
        for rv, dep, v in newer:
            print(f"  {dep} {v}: {rv}")
    else:
        print(f"{name}: rust-version {declared}; {len(seen) - 1} dependencies need at most "
              f"{'.'.join(map(str, needed))}")
sys.exit(1 if failed else 0)
