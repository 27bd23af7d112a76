#!/usr/bin/env python3
"""Where the flash and RAM of a Cortex-M ELF go: bytes per crate and per section, the
largest symbols, and the largest stack frames. Used by measure.sh.

    tools/size_breakdown.py ELF [--model-bytes N] [--top N]

Sections: flash = .vector_table + .text + .rodata + .data (its initial values), RAM =
.data + .bss + .uninit, from `readelf -S`. Symbols and sizes from `arm-none-eabi-nm -S -C`:
a symbol's crate is the first path segment of its demangled name (the type's, for
`<T as Trait>::f`). With fat LTO, inlined code counts for the function it was inlined
into, and generic code for the crate that defines it: `embassy_executor`'s
`TaskStorage::poll` holds the firmware's inlined tasks. Unnamed constants (`.Lanon…`:
tables, strings, the embedded model) are one row; with --model-bytes the one of exactly
that size is the embedded model. Bytes no symbol covers (padding, unsized symbols) are
the `(unattributed)` row.

Stack frames: the bytes each function subtracts from sp (`sub sp, #N` in
`arm-none-eabi-objdump -d`; pushed registers not counted) — a static view of what
start-up needs, which the QEMU stack painting measures only for the QEMU binary.
"""

import argparse
import collections
import re
import subprocess
import sys

FLASH = (".vector_table", ".text", ".rodata", ".data")
RAM = (".data", ".bss", ".uninit")
# nm symbol type -> section it lives in.
SECTION_OF = {"t": ".text", "r": ".rodata", "d": ".data", "b": ".bss"}
PRIMITIVES = {"bool", "char", "str", "f32", "f64", "i8", "i16", "i32", "i64", "i128",
              "isize", "u8", "u16", "u32", "u64", "u128", "usize"}


def run(*cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"size_breakdown.py: {' '.join(cmd)} failed: {e}")


def sections(elf):
    sizes = {}
    row = re.compile(r"^\s*\[\s*\d+\]\s+(\.\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s")
    for line in run("readelf", "-S", "-W", elf).splitlines():
        m = row.match(line)
        if m:
            sizes[m.group(1)] = int(m.group(2), 16)
    return sizes


def crate(name, model_bytes, size):
    if name.startswith(".Lanon"):
        if model_bytes and size == model_bytes:
            return "(embedded model)"
        return "(unnamed constants)"
    name = name.lstrip("<&*[ ")
    for prefix in ("const ", "mut ", "dyn "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if "::" not in name:
        return "(no crate: handlers, intrinsics)"
    head = re.split(r"::|<| ", name, maxsplit=1)[0]
    # `<f32 as core::str::FromStr>::from_str`, `<T as …>`: the trait's crate.
    if (head in PRIMITIVES or re.fullmatch(r"[A-Z]", head)) and " as " in name:
        return crate(name.split(" as ", 1)[1], model_bytes, size)
    if head in PRIMITIVES or head == "__rustc":
        return "core"
    return {"nano33": "nano33 (binary)", "qemu": "qemu (binary)"}.get(head, head)


def frames(elf, top):
    per_fn = collections.Counter()
    current = None
    head = re.compile(r"^[0-9a-f]+ <(.*)>:$")
    sub = re.compile(r"\tsub(?:w|\.w)?\s+sp, (?:sp, )?#(\d+)")
    for line in run("arm-none-eabi-objdump", "-d", "-C", elf).splitlines():
        m = head.match(line)
        if m:
            current = m.group(1)
            continue
        m = sub.search(line)
        if m and current:
            per_fn[current] += int(m.group(1))
    return per_fn.most_common(top)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("--model-bytes", type=int, default=0)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()

    sec = sections(args.elf)
    flash = sum(sec.get(s, 0) for s in FLASH)
    ram = sum(sec.get(s, 0) for s in RAM)
    print("  sections: " + ", ".join(f"{s} {sec[s]:,}" for s in dict.fromkeys(FLASH + RAM) if s in sec))

    per_crate = collections.defaultdict(lambda: collections.Counter())
    symbols = []
    covered = collections.Counter()
    for line in run("arm-none-eabi-nm", "-S", "-C", "--size-sort", args.elf).splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4:
            continue
        size, kind, name = int(parts[1], 16), parts[2].lower(), parts[3]
        section = SECTION_OF.get(kind)
        if section is None:
            continue
        c = crate(name, args.model_bytes, size)
        per_crate[c][section] += size
        covered[section] += size
        symbols.append((size, section, name))
    rest = collections.Counter(
        {s: sec.get(s, 0) - covered[s] for s in (".vector_table", ".text", ".rodata", ".data", ".bss", ".uninit")}
    )
    rest[".text"] += rest.pop(".vector_table")
    rest[".bss"] += rest.pop(".uninit")
    per_crate["(unattributed)"] = rest

    def flash_of(c):
        return c[".text"] + c[".rodata"] + c[".data"]

    def ram_of(c):
        return c[".data"] + c[".bss"]

    print(f"  {'crate':<36} {'flash B':>9} {'(text':>8} {'rodata)':>8} {'RAM B':>8}")
    rows = sorted(per_crate.items(), key=lambda kv: (-flash_of(kv[1]), -ram_of(kv[1])))
    for name, c in rows:
        if flash_of(c) == 0 and ram_of(c) == 0:
            continue
        print(f"  {name:<36} {flash_of(c):>9,} {c['.text']:>8,} {c['.rodata']:>8,} {ram_of(c):>8,}")
    print(f"  {'total':<36} {flash:>9,} {'':>8} {'':>8} {ram:>8,}")

    print("  largest in flash: " + "; ".join(
        f"{n} {s:,}" for s, sect, n in sorted((x for x in symbols if x[1] != ".bss"), reverse=True)[: args.top]))
    print("  largest in RAM: " + "; ".join(
        f"{n} {s:,}" for s, sect, n in sorted((x for x in symbols if x[1] in (".bss", ".data")), reverse=True)[: args.top]))
    print("  largest stack frames (static, `sub sp`): " + "; ".join(f"{n} {s:,}" for n, s in frames(args.elf, 4)))


if __name__ == "__main__":
    main()
