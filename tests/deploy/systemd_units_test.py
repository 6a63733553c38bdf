#!/usr/bin/env python3
"""Checks the systemd units in deploy/systemd/.

1. Each process has its unit (broker, router, delivery, outcomes, notifier,
   the adapter@ template, console), refx.target wants every one but the
   template, and each service is hardened and ordered as deploy/systemd/
   README.md says: User=refx, NoNewPrivileges, ProtectSystem=strict,
   PrivateTmp, writes only its state folder under /var/lib/refx (the broker
   also the backup folder), Restart=on-failure, after the broker.
2. `systemd-analyze verify` (Debian 12's systemd 252) accepts every unit
   without a warning: the units are copied to a temporary folder with their
   /usr/local/bin/refx-* commands pointed at stub executables there, so the
   check needs neither an installed refx nor a running systemd. Without
   systemd-analyze on the machine, part 2 is reported as skipped.
Exit 0 only when every check passed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

FAILURES = []
SERVICES = ["refx-broker", "refx-router", "refx-delivery", "refx-outcomes", "refx-notifier", "refx-adapter@",
            "refx-console"]


def check(condition, what):
    print(("ok     " if condition else "FAILED ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


def parse(path):
    """Unit file -> {section: {key: [values]}} (systemd keys may repeat)."""
    sections, current = {}, None
    for raw in open(path):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            continue
        key, _, value = line.partition("=")
        check(current is not None and _ == "=", "%s: '%s' is a key=value line in a section" %
              (os.path.basename(path), line))
        if current is not None:
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit, section, key):
    values = unit.get(section, {}).get(key, [])
    return values[-1] if values else None


def words(unit, section, key):
    return " ".join(unit.get(section, {}).get(key, [])).split()


def check_units(folder):
    units = {}
    for name in SERVICES:
        path = os.path.join(folder, name + ".service")
        check(os.path.exists(path), "%s.service exists" % name)
        if os.path.exists(path):
            units[name] = parse(path)
    target = parse(os.path.join(folder, "refx.target"))
    wanted = words(target, "Unit", "Wants")
    for name in SERVICES:
        if not name.endswith("@"):
            check(name + ".service" in wanted, "refx.target wants %s.service" % name)
    for name, unit in units.items():
        svc = "Service"
        for key, value in (("User", "refx"), ("Group", "refx"), ("NoNewPrivileges", "yes"),
                           ("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("Restart", "on-failure"),
                           ("CapabilityBoundingSet", "")):
            check(one(unit, svc, key) == value, "%s: %s=%s" % (name, key, value))
        exec_start = one(unit, svc, "ExecStart") or ""
        check(exec_start.startswith("/usr/local/bin/%s " % name.rstrip("@")), "%s: ExecStart runs %s" %
              (name, name.rstrip("@")))
        # Writable: only its state folder (StateDirectory under /var/lib), and the broker's backups.
        state = one(unit, svc, "StateDirectory") or ""
        rw = words(unit, svc, "ReadWritePaths")
        check(state.startswith("refx") and "/var/lib/" + state in rw,
              "%s: ReadWritePaths holds its state folder /var/lib/%s" % (name, state))
        allowed = ["/var/lib/" + state] + (["-/srv/refx/backups"] if name == "refx-broker" else [])
        check(all(p in allowed for p in rw), "%s: writes nothing else (%s)" % (name, " ".join(rw)))
        check(one(unit, "Install", "WantedBy") == "refx.target", "%s: WantedBy=refx.target" % name)
        check(one(unit, "Unit", "PartOf") == "refx.target", "%s: PartOf=refx.target" % name)
        if name != "refx-broker":
            check("refx-broker.service" in words(unit, "Unit", "After"), "%s: starts after the broker" % name)
    return units


def verify(folder, analyze):
    work = tempfile.mkdtemp(prefix="refx_units_")
    try:
        bin_dir = os.path.join(work, "bin")
        os.makedirs(bin_dir)
        for name in SERVICES:
            stub = os.path.join(bin_dir, name.rstrip("@"))
            with open(stub, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(stub, 0o755)
        for f in os.listdir(folder):
            if f.endswith(".service") or f.endswith(".target"):
                text = open(os.path.join(folder, f)).read().replace("/usr/local/bin/", bin_dir + "/")
                with open(os.path.join(work, f), "w") as out:
                    out.write(text)
        for name in SERVICES + ["refx"]:
            unit = (name + "kent-police.service") if name.endswith("@") else \
                (name + (".target" if name == "refx" else ".service"))
            run = subprocess.run([analyze, "verify", "--man=no", unit], cwd=work, capture_output=True, text=True)
            said = (run.stdout + run.stderr).strip()
            check(run.returncode == 0 and not said,
                  "systemd-analyze verify %s: no error or warning%s" % (unit, ("\n" + said) if said else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", required=True, help="deploy/systemd")
    args = parser.parse_args()
    check_units(args.units)
    analyze = shutil.which("systemd-analyze")
    if analyze:
        verify(args.units, analyze)
    else:
        print("skipped: systemd-analyze verify (no systemd-analyze on this machine)")
    print("%d failed" % len(FAILURES) if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
