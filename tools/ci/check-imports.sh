#!/usr/bin/env bash
# Keeps the import arrows between targets honest. The arrows live in one place, the table of
# docs/architecture.md (between its "arrows: begin" and "arrows: end" markers); this script
# reads it and fails, naming file and module, when
#   - a source file of Sources/<Target>/ imports a module its row does not list (nor the
#     system modules that page names),
#   - Package.swift gives a target a dependency its row does not list,
#   - a target reaches, through any chain of dependencies, a module its "never reaches" column
#     names (the runtime must never pull in the converter, the training module or BLAS),
#   - a target of Sources/ has no row, or a row names no target.
# Run by tools/ci/test.sh; exits non-zero on a violation.
set -euo pipefail
cd "$(dirname "$0")/../.."

swift package dump-package 2>/dev/null > "${TMPDIR:-/tmp}/pocketclip-package-$$.json"
trap 'rm -f "${TMPDIR:-/tmp}/pocketclip-package-$$.json"' EXIT
python3 - "${TMPDIR:-/tmp}/pocketclip-package-$$.json" <<'PY'
import json, os, re, sys

doc = open("docs/architecture.md", encoding="utf-8").read()
def fail_setup(message):
    print(f"check-imports: {message}", file=sys.stderr)
    sys.exit(2)

m = re.search(r"<!-- arrows: begin[^>]*-->\n(.*?)<!-- arrows: end -->", doc, re.S)
if not m:
    fail_setup("docs/architecture.md has no arrows table between '<!-- arrows: begin' and '<!-- arrows: end -->'")
system_line = re.search(r"System modules any target may import: `([^`]*)`", doc)
if not system_line:
    fail_setup("docs/architecture.md does not name the system modules ('System modules any target may import: `…`')")
system = set(system_line.group(1).split())

def names(cell):
    cell = cell.strip().strip("`").strip()
    return set() if cell in ("", "—", "-") else set(cell.replace("`", " ").split())

allowed, never = {}, {}
for line in m.group(1).splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 3 or not cells[0].startswith("`"):
        continue  # the header and its rule
    target = cells[0].strip("`")
    allowed[target] = names(cells[1])
    never[target] = names(cells[2])

bad = 0
def fail(message):
    global bad
    print(f"check-imports: {message}", file=sys.stderr)
    bad = 1

# 1. Every import of every source file.
import_re = re.compile(r"^\s*(?:@[_A-Za-z]+(?:\([^)]*\))?\s+)*import\s+(?:(?:class|struct|enum|func|protocol|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)")
for target in sorted(os.listdir("Sources")):
    if not os.path.isdir(os.path.join("Sources", target)):
        continue
    if target not in allowed:
        fail(f"target '{target}' has no row in the arrows table of docs/architecture.md; add it with what it may import")
        continue
    ok = allowed[target] | system
    for root, _, files in os.walk(os.path.join("Sources", target)):
        for f in sorted(files):
            if not f.endswith(".swift"):
                continue
            path = os.path.join(root, f)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                im = import_re.match(line)
                if im and im.group(1) not in ok:
                    fail(f"{path}:{n} imports {im.group(1)}, which {target} may not import "
                         f"(docs/architecture.md allows: {' '.join(sorted(allowed[target])) or 'nothing of the project'})")

# 2. Package.swift's dependencies, direct and transitive.
pkg = json.load(open(sys.argv[1]))
deps = {}
for t in pkg["targets"]:
    ds = []
    for d in t.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in d:
                ds.append(d[kind][0])
    deps[t["name"]] = ds
for target in sorted(allowed):
    if target not in deps:
        fail(f"docs/architecture.md has a row for '{target}', which Package.swift does not define")
        continue
    for d in deps[target]:
        if d not in allowed[target]:
            fail(f"Package.swift lets {target} depend on {d}, which its row in docs/architecture.md does not list")
def reach(name, seen):
    for d in deps.get(name, []):
        if d not in seen:
            seen.add(d)
            reach(d, seen)
    return seen
for target in sorted(never):
    for d in sorted(reach(target, set()) & never[target]):
        fail(f"{target} reaches {d} through Package.swift's dependencies; docs/architecture.md says it never may")

if not bad:
    print("check-imports: every target imports and depends on only what docs/architecture.md allows")
sys.exit(bad)
PY
