#!/usr/bin/python3
"""depcheck — the include edges between src/ folders (and modules/) must be
among those allowed below; any other edge fails the check.

Reads every `#include "…"` line of src/*/*.{c,h} and modules/*/*.{c,h}.
An include names a folder ("kv/db.h" -> kv) and a header. A rule allows a
whole folder ("kv") or one header of it ("server/hooks.h"). A file may
always include headers of its own folder. Rules keyed by a file
("server/main.c") add to its folder's rules for that file only.

    usage: mk/depcheck.py [ROOT]      (ROOT defaults to the current directory)
"""
import os
import re
import sys

# ---- the allowed edges -------------------------------------------------------------------
# The handler API is server/api.h; hooks is server/hooks.h; the store API is
# persist/store_api.h; persist's public header is persist/persist_api.h; the
# command table's view of handlers is commands/handlers.h.
ALLOWED = {
    "util": [],
    "resp": ["util"],
    "kv": ["util"],
    "sql": ["util"],
    "server": ["resp", "kv", "util"],
    # the command table's view of the handlers
    "server/cmdtable.c": ["commands/handlers.h"],
    # the composition root: wires persistence in as the server's observer
    "server/main.c": ["persist/persist_api.h"],
    # handlers.h: the signatures the command table expects; hooks.h: to
    # register DEBUG subcommands and INFO lines; acl.h: users and permission
    # checks (the ACL family, AUTH, scripts' calls, SORT BY/GET, the SQL
    # table rules checked on the store thread)
    "commands": ["server/api.h", "server/hooks.h", "server/acl.h", "commands/handlers.h", "kv",
                 "resp", "persist/persist_api.h", "util"],
    "scripting": ["server/api.h", "server/hooks.h", "server/acl.h", "commands/handlers.h", "kv",
                  "resp", "persist/persist_api.h", "util"],
    # server/audit.h: SQL.EXEC's audit event once the store has run it
    "persist": ["server/api.h", "server/hooks.h", "server/acl.h", "server/audit.h", "kv", "resp",
                "util",
                "persist/store_api.h"],
    # a module is built from its own folder: the engine and the store API
    # (util's allocator is the one every part of the program shares)
    "modules": ["sql", "persist/store_api.h", "util"],
    "tools": ["sql", "util"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(path):
    """src/kv/db.c -> kv; modules/sqlstore/x.c -> modules"""
    parts = path.split("/")
    return "modules" if parts[0] == "modules" else parts[1]


def allowed(src_rel, src_folder, target):
    tfolder = target.split("/")[0] if "/" in target else src_folder
    if tfolder == src_folder and src_folder != "modules":
        return True
    rules = ALLOWED.get(src_folder)
    if rules is None:
        return False
    rules = rules + ALLOWED.get(src_rel, [])
    return tfolder in rules or target in rules


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad, nfiles = [], 0
    for top in ("src", "modules"):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, top))):
            for name in sorted(files):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                nfiles += 1
                folder = folder_of(path)
                src_rel = path[len("src/"):] if path.startswith("src/") else path
                with open(os.path.join(root, path), errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if "/" not in target and folder == "modules":
                            continue  # a module's own header
                        if allowed(src_rel, folder, target):
                            continue
                        bad.append("%s:%d: %s -> %s not allowed" % (path, lineno, folder, target))
    for b in bad:
        print("depcheck: " + b)
    if bad:
        print("depcheck: %d include(s) outside the allowed edges (rules: mk/depcheck.py)" % len(bad))
        return 1
    print("depcheck: %d files, every include edge allowed" % nfiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
