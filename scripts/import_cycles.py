#!/usr/bin/env python3
"""Import cycles between the module files of a Rust crate.

Usage: scripts/import_cycles.py CRATE_SRC_DIR...   (e.g. runtime/src trainer/src)

Every `crate::a::b`, `super::x` and `self::x` path in a file (outside its
trailing `#[cfg(test)] mod tests`) is resolved to the module file it names;
an edge from a module to one of its own ancestors is not counted (a child
using its parent's items is how a parent owns shared state). Prints each
strongly connected set of two or more files and exits 1 if there is any.
"""
import os
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", re.S)


def modules(src):
    """{module path tuple: file} for every .rs file under src."""
    out = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(root, name)
                parts = tuple(os.path.relpath(path, src)[:-3].split(os.sep))
                if parts[-1] in ("mod", "lib", "main"):
                    parts = parts[:-1]
                out[parts] = path
    return out


def edges(mods):
    def resolve(path):
        path = list(path)
        while path:
            if tuple(path) in mods:
                return tuple(path)
            path.pop()
        return None

    out = {m: set() for m in mods}
    for mod, file in mods.items():
        text = TESTS.sub("", open(file, encoding="utf-8").read())
        for m in PATH.finditer(text):
            head, tail = m.group(1), [x for x in m.group(2).split("::") if x]
            if head == "crate":
                path = tail
            elif head == "self":
                path = list(mod) + tail
            else:
                path = list(mod)[:-1] + tail
            target = resolve(path)
            is_ancestor = target is not None and len(target) < len(mod) and mod[: len(target)] == target
            if target is not None and target != mod and not is_ancestor:
                out[mod].add(target)
    return out


def cycles(graph):
    """Strongly connected components of 2+ nodes (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bad = 0
    for src in sys.argv[1:]:
        mods = modules(src)
        for comp in cycles(edges(mods)):
            bad += 1
            print(f"{src}: import cycle: " + ", ".join("/".join(c) or "lib" for c in comp))
        print(f"{src}: {len(mods)} module files checked")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
