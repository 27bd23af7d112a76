#!/usr/bin/env python3
"""Instruction profile of the QEMU binary: where one inference window's
instructions go, per step and per function, optionally per instruction.

QEMU runs the binary with `-d in_asm,exec,nochain` (every translated block is
logged once with its instructions, every execution of a block once); the log
goes through a pipe, never to disk (hundreds of millions of lines). Executed
instructions are counted per address, attributed to the function whose symbol
precedes the address (`nm`), and to a step of the model: every call of the
runtime's `arena::split` (once per step) starts the next step, so step `k`
collects the work of step `k` over every window the binary runs (the bench
window and the tagged clip's), divided by the number of windows. Step `pre` is
everything before the first inference (front-end report, kernel checks, model
parsing).

    python3 tools/qemu_profile.py                   # per-step table, top functions
    python3 tools/qemu_profile.py --step 7          # one step's functions
    python3 tools/qemu_profile.py --step 7 --annotate planar --min 500
                                                    # that function's hot instructions

Needs qemu-system-arm, nm and llvm-objdump; build the binary first
(`./run-qemu.sh` or `./measure.sh`). Takes about a minute.
"""

import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile

ELF = "target/thumbv7em-none-eabihf/release/qemu"
STEP_MARK = "engine5arena5split"  # mangled `matpac_runtime::engine::arena::split`


def symbols(elf):
    """Sorted (address, demangled name) of the text symbols."""
    out = subprocess.run(["nm", "-C", "-n", elf], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in "tT":
            syms.append((int(parts[0], 16) & ~1, parts[2]))
    return sorted(syms)


def step_mark(elf):
    out = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if STEP_MARK in line:
            return int(line.split()[0], 16) & ~1
    sys.exit(f"no symbol containing {STEP_MARK} in {elf}")


def trace(elf, mark):
    """Executed instructions per (step, address), and the number of steps run."""
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "trace")
        os.mkfifo(fifo)
        qemu = subprocess.Popen(
            ["qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
             "-monitor", "none", "-serial", "none", "-icount", "shift=0",
             "-semihosting-config", "enable=on,target=native",
             "-d", "in_asm,exec,nochain", "-D", fifo, "-kernel", elf],
            stdout=subprocess.DEVNULL)
        blocks, execs, current, step, steps = {}, collections.Counter(), None, -1, 0
        exec_re = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
        with open(fifo) as log:
            for line in log:
                if line.startswith("Trace"):
                    m = exec_re.search(line)
                    if m:
                        pc = int(m.group(1), 16)
                        if pc == mark:
                            steps += 1
                            step = steps - 1
                        execs[(step, pc)] += 1
                elif line.startswith("IN:"):
                    current = None
                elif line.startswith("0x"):
                    pc = int(line.split(":")[0], 16)
                    if current is None:
                        current = pc
                        blocks[current] = []
                    blocks[current].append(pc)
        qemu.wait()
    counts = collections.Counter()
    for (st, pc), n in execs.items():
        for addr in blocks.get(pc, []):
            counts[(st, addr)] += n
    return counts, steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--elf", default=ELF)
    ap.add_argument("--steps", type=int, default=11, help="steps of the model (the bench prints them)")
    ap.add_argument("--step", type=int, help="show this step's functions")
    ap.add_argument("--annotate", help="with --step: print this function's instructions (substring)")
    ap.add_argument("--min", type=float, default=100, help="with --annotate: least count shown")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

    syms = symbols(args.elf)
    addrs = [a for a, _ in syms]
    counts, calls = trace(args.elf, step_mark(args.elf))
    windows = max(calls // args.steps, 1)

    def func(addr):
        i = bisect.bisect_right(addrs, addr & ~1) - 1
        return syms[i][1].split("::h")[0] if i >= 0 else "?"

    per_step = collections.defaultdict(collections.Counter)
    for (st, addr), n in counts.items():
        key = "pre" if st < 0 else st % args.steps
        per_step[key][func(addr)] += n
    print(f"{windows} windows ({calls} steps); instructions per window")
    for key in ["pre"] + list(range(args.steps)):
        if args.step is not None and key != args.step:
            continue
        funcs = per_step.get(key, collections.Counter())
        scale = 1 if key == "pre" else windows
        print(f"step {key}: {sum(funcs.values()) / scale:12.0f}")
        for name, n in funcs.most_common(args.top):
            print(f"    {n / scale:12.0f}  {name[-90:]}")

    if args.annotate and args.step is not None:
        per_addr = collections.Counter()
        for (st, addr), n in counts.items():
            if st >= 0 and st % args.steps == args.step:
                per_addr[addr] += n / windows
        dis = subprocess.run(["llvm-objdump", "-d", "-C", "--no-show-raw-insn",
                              "--triple=thumbv7em-none-eabihf", args.elf],
                             capture_output=True, text=True, check=True).stdout
        inside = False
        for line in dis.splitlines():
            if re.match(r"^[0-9a-f]+ <", line):
                inside = args.annotate in line
                if inside:
                    print(line)
                continue
            m = re.match(r"\s*([0-9a-f]+):", line)
            if inside and m and per_addr.get(int(m.group(1), 16), 0) >= args.min:
                print(f"{per_addr[int(m.group(1), 16)]:10.0f} {line}")


if __name__ == "__main__":
    main()
