#!/usr/bin/env python3
"""Checks the source layout rules of docs/architecture.md on src/ (run by scripts/test.sh):

- no source file outside tests longer than 500 lines;
- no function longer than 80 lines, except in the line-by-line ggml ports (src/quant/formats);
- no `Result<_, String>` outside tests (typed errors);
- src/cli/ reaches plan, transform, calib and output only through the pipeline;
- no import cycle between the top-level modules of src/.

Test code (files named tests.rs or *_tests.rs, and `#[cfg(test)]` modules at the end of a file)
is exempt. Prints every violation and exits 1 if there is one.
Usage: scripts/check_layout.py [SRC_DIR]
"""
import re
import sys
from pathlib import Path

MAX_FILE, MAX_FN = 500, 80
PORTS = ("quant/formats/",)
PRIVATE_STAGES = ("plan", "transform", "calib", "output")


def is_test_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name == "tests.rs" or name.endswith("_tests.rs") or name == "quant_ggml_ffi.rs"


def strip_tests(text: str) -> str:
    """The file without its trailing `#[cfg(test)] mod ... { }` block."""
    m = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+ \{", text, re.M)
    return text[: m.start()] if m else text


def code_lines(text: str) -> list[str]:
    """Lines with comments and string contents blanked, so braces in them are not counted."""
    out = []
    for line in text.splitlines():
        line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
        line = re.sub(r"'(\\.|[^'\\])'", "''", line)
        out.append(line.split("//", 1)[0])
    return out


def long_functions(text: str):
    lines = code_lines(text)
    fn_re = re.compile(r"^\s*(pub(\([a-z]+\))?\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")
    i = 0
    while i < len(lines):
        m = fn_re.match(lines[i])
        if not m:
            i += 1
            continue
        depth, start, opened, j = 0, i, False, i
        while j < len(lines):
            depth += lines[j].count("{") - lines[j].count("}")
            opened = opened or "{" in lines[j]
            if ";" in lines[j] and not opened:
                break  # a declaration without a body
            if opened and depth <= 0:
                break
            j += 1
        n = j - start + 1
        if opened and n > MAX_FN:
            yield m.group(5), start + 1, n
        i = start + 1


def imports(text: str) -> set[str]:
    mods = set(re.findall(r"\bcrate::([a-z_]+)", text))
    for group in re.findall(r"\buse crate::\{([^}]*)\}", text):
        mods |= set(re.findall(r"(?:^|,)\s*([a-z_]+)", group))
    return mods


def cycles(graph: dict[str, set[str]]):
    found, state = [], {}

    def visit(n, path):
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            if m not in graph:
                continue
            if state.get(m) == 1:
                found.append(path[path.index(m):] + [m])
            elif m not in state:
                visit(m, path + [m])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return found


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "src")
    problems, graph = [], {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).as_posix()
        if is_test_file(rel):
            continue
        text = strip_tests(f.read_text())
        n_lines = text.count("\n")
        if n_lines > MAX_FILE:
            problems.append(f"src/{rel}: {n_lines} lines (at most {MAX_FILE} outside tests)")
        if not rel.startswith(PORTS):
            for name, line, n in long_functions(text):
                problems.append(f"src/{rel}:{line}: fn {name} is {n} lines (at most {MAX_FN})")
        for k, line in enumerate(text.splitlines(), 1):
            if re.search(r"Result<[^>]*,\s*String>", line):
                problems.append(f"src/{rel}:{k}: Result with a String error: {line.strip()}")
        top = rel.split("/", 1)[0].removesuffix(".rs")
        if top == "cli":
            for m in re.findall(r"\bsinkquant::([a-z_]+)", "\n".join(code_lines(text))):
                if m in PRIVATE_STAGES:
                    problems.append(f"src/{rel}: uses sinkquant::{m} (the CLI goes through sinkquant::pipeline)")
            continue
        if top not in ("lib", "main"):
            code = "\n".join(code_lines(text))
            graph.setdefault(top, set()).update(m for m in imports(code) if m != top and m != "error")
    for c in cycles(graph):
        problems.append("import cycle: " + " -> ".join(c))
    for p in problems:
        print(p)
    print(f"check_layout: {len(problems)} problem(s) in {src}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
