#!/usr/bin/env python3
"""The include graph of hph's source folders has no upward edge.

LAYERS lists the folders lowest first (docs/architecture.md explains each). A file may
include files of its own folder and of folders on lower layers; folders on the same layer
(x64/ and arm64/ side by side) never include each other. Every folder holding C++ must be
listed, so a new folder has to be given its place.

  check_layering.py ROOT        check the tree at ROOT: exit 0, or 1 listing each upward edge
  check_layering.py --self-test show the check catches an upward, a sideways and an unlisted
                                include in a small tree of its own, and passes a clean one
"""
import os
import re
import sys
import tempfile

LAYERS = [
    ["support"],
    ["plan"],
    ["emu/core", "host"],
    ["emu/x64", "emu/arm64", "host/x64", "host/arm64"],
    ["emu/pe"],
    ["emu/hybrid"],
    ["patch"],
    ["patch/x64", "patch/arm64"],
    ["properties"],
    ["harness/scenario"],
    ["harness/gate"],
    ["harness/report"],
    ["harness/explore"],
    ["harness"],
]
# Folders above every layer: they may include anything, nothing may include them.
TOP = ["tests", "bench", "fuzz"]
SKIP = {".git", ".cache", "corpus", "docs", "ci"}  # and every build directory (build, build-*)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def rank_of(folder):
    for rank, folders in enumerate(LAYERS):
        if folder in folders:
            return rank
    for top in TOP:
        if folder == top or folder.startswith(top + "/"):
            return len(LAYERS)
    return None


def sources(root):
    for directory, subdirs, files in os.walk(root):
        rel = os.path.relpath(directory, root).replace(os.sep, "/")
        subdirs[:] = [d for d in subdirs
                      if (top := (d if rel == "." else rel + "/" + d).split("/")[0]) not in SKIP
                      and top != "build" and not top.startswith("build-")]
        for name in files:
            if name.endswith((".h", ".cpp")):
                yield ("" if rel == "." else rel + "/") + name


def check(root):
    problems = []
    for path in sorted(sources(root)):
        folder = os.path.dirname(path)
        rank = rank_of(folder)
        if rank is None:
            problems.append(f"{path}: folder '{folder}' has no layer (add it to LAYERS in {__file__})")
            continue
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for included in INCLUDE.findall(text):
            target = os.path.dirname(included)
            if not os.path.exists(os.path.join(root, included)):
                continue  # a system or generated header, or one relative to the file
            if target == folder:
                continue
            target_rank = rank_of(target)
            if target_rank is None:
                problems.append(f"{path}: includes {included}, whose folder '{target}' has no layer")
            elif target_rank > rank or (target_rank == len(LAYERS) and rank < len(LAYERS)):
                problems.append(f"{path}: includes {included} from a higher layer ('{folder}' is below '{target}')")
            elif target_rank == rank:
                problems.append(f"{path}: includes {included} from '{target}', beside '{folder}' on the same layer")
    return problems


def self_test():
    def tree(files):
        root = tempfile.mkdtemp(prefix="layering-")
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        return root

    clean = {"support/A.h": "", "plan/P.h": '#include "support/A.h"\n',
             "emu/core/M.h": '#include "plan/P.h"\n#include "emu/core/N.h"\n', "emu/core/N.h": "",
             "harness/main.cpp": '#include "emu/core/M.h"\n#include <vector>\n'}
    cases = {
        "clean": (clean, 0),
        "upward": ({**clean, "plan/Q.h": '#include "emu/core/M.h"\n'}, 1),
        "sideways": ({**clean, "emu/x64/X.h": "", "emu/arm64/Y.h": '#include "emu/x64/X.h"\n'}, 1),
        "unlisted": ({**clean, "newfolder/Z.h": '#include "support/A.h"\n'}, 1),
        "into tests": ({**clean, "tests/T.h": "", "patch/R.h": '#include "tests/T.h"\n'}, 1),
    }
    failed = False
    for name, (files, expected) in cases.items():
        found = check(tree(files))
        if len(found) != expected:
            failed = True
            print(f"self-test '{name}': expected {expected} problem(s), found {found}")
    print("self-test:", "FAILED" if failed else f"all {len(cases)} cases as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    problems = check(sys.argv[1])
    for p in problems:
        print(p)
    print(f"layering: {len(problems)} upward or unlisted include(s)" if problems else "layering: no upward include")
    sys.exit(1 if problems else 0)
