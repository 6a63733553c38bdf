#!/usr/bin/env python3
"""Fault trials and soak for refx, against the real processes.

    faults.py faults [--short] [--build DIR] [--work DIR] [--seed N] [--port-base P]
    faults.py soak --minutes N [--kill-every S] [--out FILE.html] ...

Every trial starts a fresh stack (refx-broker, refx-router, refx-delivery,
refx-outcomes and, when built, refx-adapter) in its own folder and ports,
puts a mixed load on it — `refx submit` of the sample referrals under fresh
references (so they route and get delivered), `refx inbox ack` of delivered
cases and POSTs to the adapter's HTTP intake — injects one kind of fault many
times, lets the clients re-send what was not acknowledged, then stops the
stack and reads what the log holds (refx-faults-dump, `refx audit verify
--db` with the signing key). It counts:

  acknowledged  referrals and inbox steps the stack acknowledged
  lost          acknowledged (or answered 202 by the adapter) but not in the
                log, or re-accepted under a new id
  duplicated    a referral, a routing (referral, destination), a delivery
                attempt or an inbox step in the log more than once
  ids changed   an acknowledged referral whose id or seq differs on a later
                answer or in the log
  chain intact  `refx audit verify --db` (hash chain, seqs, signed checkpoints,
                indexes) exits 0 after every fault and at the end

Power loss runs the data and state folders on refx-faultfs (tests/faultfs):
after killing every process it drops all that was not fsynced, checks the
surviving log right away against every acknowledgement given before the cut,
and restarts everything on what remains.
"""
import argparse
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import datetime
import zoneinfo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = ["router", "delivery", "outcomes"]

# The agency adapter (refx-adapter, adapters/README.md), when built: one for
# kent-police with its spool beside the services' state (on refx-faultfs in
# the power-loss trial); the load POSTs some referrals to its HTTP intake and
# every 202 ("accepted": durable in the spool) must reach the log once.
ADAPTER_AGENCY = "kent-police"
# Destinations whose delivered cases the load acknowledges (inbox appends).
ACK_AS = ["DA_MARAC", "DCSM", "PREVENT", "CSU_TRIAGE"]


# Everything a trial started, stopped after each trial even when it failed.
STACKS, LOADS = [], []


def cleanup():
    for load in LOADS:
        load.stopping.set()
        load.frozen.set()
        c = load.current()
        if c is not None and c.poll() is None:
            c.kill()
    for stack in STACKS:
        stack.kill_all()
    del STACKS[:], LOADS[:]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Stack:
    """One refx stack in WORK: configuration and keys in WORK, the event log in
    DATA and the services' state in STATE (both may be on refx-faultfs)."""

    def __init__(self, build, work, port_base, data=None, state=None, env=None):
        self.bin = os.path.join(build, "bin")
        self.work = work
        self.data = data or os.path.join(work, "data")
        self.state = state or os.path.join(work, "state")
        self.port_base = port_base
        self.env = dict(os.environ, **(env or {}))
        self.procs = {}
        STACKS.append(self)
        for d in ("log", "run", "keys", "load"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        config = open(os.path.join(ROOT, "deploy", "config", "sevenoaks.textproto")).read()
        config = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: "127.0.0.1:%d" % (int(m.group(1)) - 7400 + port_base), config)
        with open(os.path.join(work, "config.textproto"), "w") as f:
            f.write(config)
        self.metrics_port = port_base + 90
        ids = sorted(set(re.findall(r'public_key_file:\s*"keys/([^".]+)', config)))
        keys = os.path.join(work, "keys")
        self.refx_quiet("keys", "gen", "broker", *ids, "--dir", keys)
        self.refx_quiet("keys", "gen-subject-key", os.path.join(keys, "subject.hmac"))
        self.refx_quiet("keys", "gen-signing-key", "broker", "--dir", keys)
        self.refx_quiet("keys", "gen-master-key", os.path.join(keys, "broker.master.key"))
        if self.has_adapter():
            self.prepare_adapter()

    def has_adapter(self):
        return os.path.exists(os.path.join(self.bin, "refx-adapter"))

    def prepare_adapter(self):
        keys = os.path.join(self.work, "keys")
        self.adapter_http = self.port_base + 80
        self.adapter_config = os.path.join(self.work, ADAPTER_AGENCY + ".adapter.textproto")
        with open(self.adapter_config, "w") as f:
            f.write("""agency_id: "%s"
broker { endpoint: "tcp://127.0.0.1:%d" broker_public_key_file: "keys/broker.pub" key_dir: "keys" }
spool_dir: "%s"
forward { batch_max: 64 backoff_initial_ms: 100 backoff_max_ms: 1000 }
http { listen: "127.0.0.1:%d" token_file: "keys/%s.tokens" worker_threads: 4 max_body_bytes: 262144
       rate_limit_per_minute: 1000000 }
metrics_address: "127.0.0.1:%d"
""" % (ADAPTER_AGENCY, self.port_base, os.path.join(self.state, "adapter-spool"), self.adapter_http,
       ADAPTER_AGENCY, self.port_base + 85))
        r = subprocess.run([os.path.join(self.bin, "refx"), "tokens", "issue", "faults", "--file",
                            os.path.join(keys, ADAPTER_AGENCY + ".tokens")], capture_output=True, text=True, check=True)
        self.adapter_token = r.stdout.strip()

    def start_adapter(self):
        ready = os.path.join(self.work, "run", "adapter.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self._spawn("adapter", [os.path.join(self.bin, "refx-adapter"), "--config", self.adapter_config,
                                "--ready-file", ready])
        for _ in range(300):
            if os.path.exists(ready) or self.procs["adapter"].poll() is not None:
                break
            time.sleep(0.05)
        return os.path.exists(ready)

    def refx_quiet(self, *args):
        subprocess.run([os.path.join(self.bin, "refx"), "--home", self.work, *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def refx(self, *args, timeout=120):
        return subprocess.run([os.path.join(self.bin, "refx"), "--home", self.work, *args], capture_output=True,
                              text=True, timeout=timeout)

    def _spawn(self, name, argv, env=None):
        self.kill(name)  # never two of one component (a leftover would hold the port or the lock)
        out = open(os.path.join(self.work, "log", name + ".log"), "a")
        self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env or self.env,
                                            start_new_session=True)
        out.close()

    def start_broker(self):
        ready = os.path.join(self.work, "run", "broker.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self._spawn("broker", [os.path.join(self.bin, "refx-broker"), "--config", os.path.join(self.work, "config.textproto"),
                               "--data", self.data, "--key-dir", os.path.join(self.work, "keys"),
                               "--ready-file", ready, "--checkpoint-every-events", "40",
                               "--checkpoint-every-seconds", "2"])
        for _ in range(300):
            if os.path.exists(ready):
                return True
            if self.procs["broker"].poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def start_service(self, svc):
        self._spawn(svc, [os.path.join(self.bin, "refx-" + svc), "--config", os.path.join(self.work, "config.textproto"),
                          "--key-dir", os.path.join(self.work, "keys"), "--key-name", "refx-" + svc,
                          "--state-dir", os.path.join(self.state, svc), "--metrics", "off"])

    def start(self):
        if not self.start_broker():
            raise RuntimeError("the broker did not start (see %s/log/broker.log)" % self.work)
        for svc in SERVICES:
            self.start_service(svc)
        if self.has_adapter():
            self.start_adapter()

    def components(self):
        return ["broker"] + SERVICES + (["adapter"] if self.has_adapter() else [])

    def restart(self, name):
        if name == "broker":
            return self.start_broker()
        if name == "adapter":
            return self.start_adapter()
        self.start_service(name)
        return True

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def signal(self, name, sig):
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)

    def kill(self, name):
        p = self.procs.get(name)
        if p is None:
            return
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()

    def stop(self, name, timeout=15):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        os.kill(p.pid, signal.SIGCONT)
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop_all(self):
        for svc in ["adapter"] + SERVICES:
            self.stop(svc)
        self.stop("broker")

    def kill_all(self):
        for name in list(self.procs):
            self.kill(name)

    def head_seq(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.metrics_port, timeout=2) as r:
                return int(json.loads(r.read().decode()).get("head_seq", 0))
        except Exception:
            return -1

    def settle(self, quiet=2.0, limit=60):
        """Waits until the log head stops moving (the services caught up)."""
        last, since, start = None, time.time(), time.time()
        while time.time() - start < limit:
            head = self.head_seq()
            if head != last:
                last, since = head, time.time()
            elif time.time() - since >= quiet:
                return head
            time.sleep(0.25)
        return last

    def adapter_spool_depth(self):
        """The adapter's refx_adapter_spool_depth (referrals it holds that the
        broker has not acknowledged); -1 when it cannot be read."""
        if not self.has_adapter():
            return 0
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % (self.port_base + 85), timeout=2) as r:
                m = re.search(r"^refx_adapter_spool_depth (\d+)", r.read().decode(), re.M)
                return int(m.group(1)) if m else -1
        except Exception:
            return -1

    def drain_adapter(self, limit=60):
        """Waits until the adapter has forwarded everything it spooled. After
        a broker restart its forwarder may first wait out a request timeout
        (5 s) and a back-off before it sends again; stopping it sooner leaves
        202-answered referrals in its spool, not in the log. Returns the
        depth left (0 when drained)."""
        start, depth = time.time(), -1
        while time.time() - start < limit:
            depth = self.adapter_spool_depth()
            if depth == 0:
                return 0
            time.sleep(0.25)
        return depth

    def verify(self):
        """`refx audit verify --db` on the (stopped) log: (ok, first line)."""
        r = self.refx("audit", "verify", "--db", self.data, "--signing-pub",
                      os.path.join(self.work, "keys", "broker.sign.pub"))
        return r.returncode == 0, (r.stdout + r.stderr).strip().splitlines()[:1]

    def dump(self):
        r = subprocess.run([os.path.join(self.bin, "refx-faults-dump"), self.data], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("refx-faults-dump: " + r.stderr.strip())
        return [json.loads(line) for line in r.stdout.splitlines() if line]


def free_port_base(start):
    """The first base from `start` on (steps of 100) whose ports base,
    base+80, +85 and +90..+93 (broker, adapter, metrics) are all free."""
    base = start
    while base < 60000:
        ok = True
        for off in (0, 80, 85, 90, 91, 92, 93):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", base + off))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
        base += 100
    raise RuntimeError("no free ports from %d on" % start)


class Ledger:
    """What the stack acknowledged, and what is still to send."""

    def __init__(self):
        self.mu = threading.Lock()
        self.acked = {}        # (agency, reference) -> (referral id, seq)
        self.steps = {}        # (referral id, destination) -> seq of its acknowledged case_acknowledged
        self.pending = {}      # (agency, reference) -> file not yet acknowledged
        self.ids_changed = 0
        self.lost = 0          # acknowledged, later answered as new (accepted under another id)
        self.delivered = {}    # destination -> set of referral ids seen DELIVERED
        self.adapter_accepted = set()  # (agency, reference) the adapter answered 202
        self.adapter_pending = {}      # (agency, reference) -> JSON body not yet answered 202

    def record(self, key, rid, seq, outcome):
        with self.mu:
            self.pending.pop(key, None)
            before = self.acked.get(key)
            if before is None:
                self.acked[key] = (rid, seq)
            elif before != (rid, seq):
                self.ids_changed += 1
                if outcome == "accepted":
                    self.lost += 1


class Load:
    """A mixed load: `refx submit` of fresh referrals in small batches and
    `refx inbox ack` of delivered cases. Each child it runs can be killed or
    paused from outside (current())."""

    def __init__(self, stack, ledger, templates, tag, batch=12):
        self.stack, self.ledger, self.templates, self.tag, self.batch = stack, ledger, templates, tag, batch
        self.n = 0
        self.stopping = threading.Event()
        self.frozen = threading.Event()
        self.idle = threading.Event()
        self.child = None
        self.child_mu = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.rng = random.Random(hash(tag) & 0xffff)
        self.adapter_templates = [t for t in templates if t["agency"] == ADAPTER_AGENCY] or templates[:1]
        LOADS.append(self)

    def new_file(self):
        self.n += 1
        t = self.templates[self.n % len(self.templates)]
        ref = "FT-%s-%06d" % (self.tag, self.n)
        body = dict(t["body"])
        body["referrerReference"] = ref
        path = os.path.join(self.stack.work, "load", ref + ".json")
        with open(path, "w") as f:
            json.dump(body, f)
        return (t["agency"], ref), path

    def _run(self, argv, timeout=60):
        with self.child_mu:
            self.child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            child = self.child
        try:
            out, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()
        with self.child_mu:
            self.child = None
        return out or ""

    def current(self):
        with self.child_mu:
            return self.child

    def submit(self, files):
        refx = os.path.join(self.stack.bin, "refx")
        out = self._run([refx, "--home", self.stack.work, "submit", "--json", *files.values()])
        by_file = {os.path.basename(p): k for k, p in files.items()}
        for line in out.splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            key = by_file.get(os.path.basename(r.get("file", "")))
            if key and r.get("outcome") in ("accepted", "duplicate"):
                self.ledger.record(key, r["ack"]["referralId"], int(r["ack"]["seq"]), r["outcome"])

    def ack_some(self):
        refx = os.path.join(self.stack.bin, "refx")
        dest = self.rng.choice(ACK_AS)
        out = self._run([refx, "--home", self.stack.work, "inbox", "list", "--as", dest, "--state", "DELIVERED", "--json"],
                        timeout=30)
        ids = re.findall(r'"referralId":\s*"(R-\d+)"', out)
        for rid in ids[:2]:
            a = self._run([refx, "--home", self.stack.work, "inbox", "ack", rid, "--as", dest, "--json"], timeout=30)
            m = re.search(r'"seq":\s*"?(\d+)', a)
            if m:
                with self.ledger.mu:
                    self.ledger.steps.setdefault((rid, dest), int(m.group(1)))

    def post_adapter(self, count=2):
        """POSTs `count` referrals (re-sends first) to the adapter's intake."""
        if not self.stack.has_adapter():
            return
        with self.ledger.mu:
            todo = list(self.ledger.adapter_pending.items())[:count]
        while len(todo) < count:
            self.n += 1
            t = self.adapter_templates[self.n % len(self.adapter_templates)]
            body = dict(t["body"])
            body["referrerReference"] = "FA-%s-%06d" % (self.tag, self.n)
            key = (ADAPTER_AGENCY, body["referrerReference"])
            data = json.dumps(body).encode()
            # Kept beside the submitted files: the clock trial reads each referral's
            # missing.returnedAt (clock-hour deadlines) from them.
            with open(os.path.join(self.stack.work, "load", key[1] + ".json"), "wb") as f:
                f.write(data)
            with self.ledger.mu:
                self.ledger.adapter_pending[key] = data
            todo.append((key, data))
        for key, data in todo:
            req = urllib.request.Request("http://127.0.0.1:%d/v1/referrals" % self.stack.adapter_http, data=data,
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Authorization": "Bearer " + self.stack.adapter_token})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except Exception:
                code = 0
            if code in (200, 201, 202):
                with self.ledger.mu:
                    self.ledger.adapter_pending.pop(key, None)
                    self.ledger.adapter_accepted.add(key)

    def run(self):
        while not self.stopping.is_set():
            if self.frozen.is_set():
                self.idle.set()
                time.sleep(0.05)
                continue
            self.idle.clear()
            files = {}
            with self.ledger.mu:
                for key, path in list(self.ledger.pending.items())[: self.batch]:
                    files[key] = path
            while len(files) < self.batch:
                key, path = self.new_file()
                files[key] = path
                with self.ledger.mu:
                    self.ledger.pending[key] = path
            self.submit(files)
            self.post_adapter()
            if self.n % 4 < self.batch:
                self.ack_some()
        self.idle.set()

    def start(self):
        self.thread.start()

    def freeze(self):
        """Stops the load starting anything new and kills what runs."""
        self.frozen.set()
        self.idle.clear()
        while not self.idle.wait(0.05):
            c = self.current()
            if c is not None and c.poll() is None:
                c.kill()

    def thaw(self):
        self.frozen.clear()

    def stop(self):
        self.stopping.set()
        self.thread.join()

    def drain(self, stack, rounds=20):
        """Re-sends everything not acknowledged, then every acknowledged
        referral once more (each must come back with its id and seq)."""
        for _ in range(rounds):
            with self.ledger.mu:
                files = dict(self.ledger.pending)
            if not files:
                break
            items = list(files.items())
            for i in range(0, len(items), 200):
                self.submit(dict(items[i:i + 200]))
        for _ in range(rounds):
            with self.ledger.mu:
                left = len(self.ledger.adapter_pending)
            if not left:
                break
            self.post_adapter(left)
            with self.ledger.mu:
                if len(self.ledger.adapter_pending) == left:
                    time.sleep(0.5)
        with self.ledger.mu:
            all_files = {k: os.path.join(stack.work, "load", k[1] + ".json") for k in self.ledger.acked}
        items = list(all_files.items())
        for i in range(0, len(items), 200):
            self.submit(dict(items[i:i + 200]))


def load_templates(build_root, work):
    """The sample referrals, dated for today (deploy/refx.sh samples)."""
    out = os.path.join(work, "samples")
    subprocess.run([os.path.join(ROOT, "deploy", "refx.sh"), "samples", out], check=True, stdout=subprocess.DEVNULL)
    templates = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".json"):
            body = json.load(open(os.path.join(out, name)))
            templates.append({"agency": body["referrer"]["agencyId"], "body": body})
    return templates


def audit(stack, ledger, events, final=True):
    """Counts lost, duplicated and changed ids in `events` against `ledger`."""
    submitted, routed, delivered, acks = {}, {}, {}, {}
    for e in events:
        actor = e.get("actor", "")
        if "referralSubmitted" in e:
            rs = e["referralSubmitted"]
            key = (actor, rs.get("referral", {}).get("referrerReference", ""))
            submitted.setdefault(key, []).append((rs.get("referralId"), int(e["seq"])))
        elif "caseRouted" in e:
            c = e["caseRouted"]
            routed[(c["referralId"], c["destination"])] = routed.get((c["referralId"], c["destination"]), 0) + 1
        elif "caseDelivered" in e:
            c = e["caseDelivered"]
            k = (c["referralId"], c["destination"], c.get("attempt", 0))
            delivered[k] = delivered.get(k, 0) + 1
        elif "caseAcknowledged" in e:
            c = e["caseAcknowledged"]
            k = (c["referralId"], c["destination"])
            acks.setdefault(k, []).append(int(e["seq"]))
    r = {"acknowledged": 0, "lost": 0, "duplicated": 0, "ids_changed": 0, "unrouted": 0}
    # Event times that go back (a stepped wall clock): the seqs still order the log.
    times = [e.get("time", "") for e in events]
    r["time_backsteps"] = sum(1 for a, b in zip(times, times[1:]) if b < a)
    with ledger.mu:
        acked = dict(ledger.acked)
        steps = dict(ledger.steps)
        r["lost"] += ledger.lost
        r["ids_changed"] += ledger.ids_changed
    r["lost_keys"] = []
    adapter_accepted = set(ledger.adapter_accepted) if final else set()
    r["acknowledged"] = len(acked) + len(steps) + len(adapter_accepted)
    # A 202 from the adapter: durable in its spool, so in the log once it has forwarded.
    for key in adapter_accepted:
        if key not in submitted:
            r["lost"] += 1
            r["lost_keys"].append("adapter 202 " + key[1])
    for key, (rid, seq) in acked.items():
        got = submitted.get(key, [])
        if not got:
            r["lost"] += 1
            r["lost_keys"].append("%s %s %s" % (key[1], rid, seq))
        elif got[0] != (rid, seq):
            r["ids_changed"] += 1
    for key, seq in steps.items():
        got = acks.get(key, [])
        if not got:
            r["lost"] += 1
        elif got[0] != seq:
            r["ids_changed"] += 1
    r["duplicated"] = (sum(len(v) - 1 for v in submitted.values()) + sum(n - 1 for n in routed.values())
                       + sum(n - 1 for n in delivered.values()) + sum(len(v) - 1 for v in acks.values()))
    if final:
        routed_ids = {k[0] for k in routed}
        r["unrouted"] = sum(1 for v in submitted.values() if v[0][0] not in routed_ids)
    r["events"] = len(events)
    return r


class Trial:
    """One row of the table: a fresh stack, load, a fault injected `times` times."""

    def __init__(self, args, name, times, data=None, state=None, env=None):
        self.args, self.name, self.times = args, name, times
        safe = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.work = os.path.join(args.work, safe)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        # Each trial its own free ports: a process a trial failed to stop (or
        # another stack on this machine) cannot disturb it.
        args.trial_index = getattr(args, "trial_index", 0) + 1
        self.stack = Stack(args.build, self.work, free_port_base(args.port_base + 100 * args.trial_index), data=data,
                           state=state, env=env)
        self.ledger = Ledger()
        self.load = Load(self.stack, self.ledger, args.templates, safe[:12] + str(args.seed))
        self.chain_ok = True
        self.notes = []
        self.ended = []
        self.rng = random.Random(args.seed)

    def pause(self, lo=0.4, hi=1.6):
        time.sleep(self.rng.uniform(lo, hi))

    def check_chain(self):
        ok, first = self.stack.verify()
        if not ok:
            self.chain_ok = False
            self.notes.append("verify: " + " ".join(first))
        return ok

    def finish(self):
        self.load.freeze()
        for name in self.stack.components():
            if not self.stack.alive(name):
                self.stack.restart(name)
        self.load.thaw()
        self.load.stop()
        self.load.drain(self.stack)
        left = self.stack.drain_adapter()
        if left:
            self.notes.append("the adapter still held %s spooled referrals after 60 s" % left)
        self.stack.settle()
        self.stack.stop_all()
        self.check_chain()
        self.stack.kill_all()
        self.events = self.stack.dump()
        r = audit(self.stack, self.ledger, self.events)
        r.update(trial=self.name, times=self.times, chain=self.chain_ok, notes="; ".join(self.notes))
        return r


def trial_kill(args, target, times):
    t = Trial(args, "SIGKILL " + target, times)
    t.stack.start()
    t.load.start()
    for _ in range(times):
        t.pause()
        t.stack.kill(target)
        time.sleep(0.2)
        if not t.stack.restart(target):
            t.notes.append(target + " did not restart")
    return t.finish()


def mount_faultfs(args, work):
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    out = open(os.path.join(work, "faultfs.log"), "a")
    p = subprocess.Popen([os.path.join(args.build, "bin", "refx-faultfs"), mnt, "-f", "-o",
                          "auto_unmount,max_threads=16"], stdout=out, stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.ismount(mnt):
            return mnt, p
        time.sleep(0.05)
    raise RuntimeError("refx-faultfs did not mount at " + mnt)


def unmount(mnt, proc):
    subprocess.run(["fusermount3", "-u", mnt], check=False, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def control(mnt, command):
    with open(os.path.join(mnt, ".faultfs"), "w") as f:
        f.write(command)


def faultfs_used_bytes(mnt):
    """used_bytes from refx-faultfs's status file ("key value" lines, made at each read).

    A read racing a change of the status can come back with a stray line
    (once: a fragment of one token), so only whole "key value" lines count,
    and the file is read again until used_bytes is among them."""
    for _ in range(50):
        with open(os.path.join(mnt, ".faultfs")) as f:
            pairs = [l.split() for l in f.read().splitlines()]
        status = dict(p for p in pairs if len(p) == 2)
        if status.get("used_bytes", "").isdigit():
            return int(status["used_bytes"])
        time.sleep(0.02)
    raise RuntimeError("refx-faultfs's status file has no used_bytes line")


def trial_power(args, times):
    base = os.path.join(args.work, "power-loss")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    mnt, fs = mount_faultfs(args, base)
    try:
        # The broker and the services create their folders themselves (durably, or a
        # power cut soon after the first start takes them away).
        control(mnt, "sync")
        args_work = args.work
        args.work = base
        t = Trial(args, "power loss", times, data=os.path.join(mnt, "data"), state=os.path.join(mnt, "state"))
        args.work = args_work
        t.stack.start()
        t.load.start()
        worst = {"lost": 0, "ids_changed": 0, "duplicated": 0}
        for i in range(times):
            t.pause(0.3, 2.5)
            t.load.freeze()          # the load's client dies with the power too
            t.stack.kill_all()
            control(mnt, "cut")
            # What survived must hold every acknowledgement given before the cut.
            t.check_chain()
            try:
                r = audit(t.stack, t.ledger, t.stack.dump(), final=False)
                for k in worst:
                    worst[k] += r[k]
                if r["lost"] or r["ids_changed"] or r["duplicated"]:
                    t.notes.append("cut %d: %d lost, %d ids changed, %d duplicated" %
                                   (i + 1, r["lost"], r["ids_changed"], r["duplicated"]))
            except RuntimeError as e:
                t.chain_ok = False
                t.notes.append("cut %d: %s" % (i + 1, e))
            try:
                t.stack.start()
            except RuntimeError as e:
                t.notes.append("cut %d: %s" % (i + 1, e))
                break
            t.load.thaw()
        r = t.finish()
        for k in worst:
            r[k] = max(r[k], worst[k])
        return r
    finally:
        unmount(mnt, fs)


def trial_disk_full(args, times):
    """The data folder's file system fills up under load, then is freed.
    On refx-faultfs ("capacity": every write past it fails with ENOSPC, even
    into space RocksDB preallocated); without FUSE, a small tmpfs filled
    with a file (RocksDB's preallocated WAL may then absorb the load)."""
    base = os.path.join(args.work, "disk-full")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    fuse = has_faultfs(args)
    if fuse:
        mnt, fs = mount_faultfs(args, base)
    else:
        mnt = os.path.join(base, "small")
        os.makedirs(mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", mnt], check=True)
    try:
        args_work = args.work
        args.work = base
        t = Trial(args, "file system full", times, data=os.path.join(mnt, "data"))
        args.work = args_work
        t.stack.start()
        t.load.start()
        filler = os.path.join(mnt, "filler")
        for i in range(times):
            t.pause(0.5, 1.5)
            if fuse:
                control(mnt, "capacity %d" % (faultfs_used_bytes(mnt) + 32768))
            else:
                subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M"], stderr=subprocess.DEVNULL)
            # The broker must stop at its next failed write: it acknowledges nothing it has not stored.
            deadline = time.time() + 20
            while t.stack.alive("broker") and time.time() < deadline:
                time.sleep(0.1)
            if t.stack.alive("broker"):
                t.notes.append("fill %d: the broker kept serving (no write failed)" % (i + 1))
            else:
                code = t.stack.procs["broker"].returncode
                ended = "exit 1" if code == 1 else ("signal %s" % signal.Signals(-code).name if code < 0 else
                                                    "exit %d" % code)
                t.ended.append(ended)
            if fuse:
                control(mnt, "capacity off")
            else:
                os.unlink(filler)
            if not t.stack.start_broker():
                t.notes.append("fill %d: broker did not restart after freeing" % (i + 1))
        if t.ended:
            t.notes.append("the broker ended on the full file system with: " + ", ".join(t.ended))
        r = t.finish()
        # It must stop as it does on any write error (answers "retry", exit 1),
        # not be aborted (RocksDB's information log on the full file system
        # once made librocksdb abort it: eventlog/rocks_logger.h).
        r["crashed"] = any(e != "exit 1" for e in t.ended)
        return r
    finally:
        if fuse:
            unmount(mnt, fs)
        else:
            subprocess.run(["umount", "-l", mnt], check=False)


def has_faultfs(args):
    return (os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None and
            os.path.exists(os.path.join(args.build, "bin", "refx-faultfs")))


def trial_pause(args, times):
    t = Trial(args, "SIGSTOP/SIGCONT broker and client", times)
    t.stack.start()
    t.load.start()
    for i in range(times):
        t.pause()
        if i % 2 == 0:
            t.stack.signal("broker", signal.SIGSTOP)
            time.sleep(self_rng_pause(t))
            t.stack.signal("broker", signal.SIGCONT)
        else:
            c = t.load.current()
            if c is not None and c.poll() is None:
                try:
                    os.kill(c.pid, signal.SIGSTOP)
                    time.sleep(self_rng_pause(t))
                    os.kill(c.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
    return t.finish()


def self_rng_pause(t):
    return t.rng.uniform(1.0, 4.0)


# --- deadlines under a stepped wall clock --------------------------------------

def parse_textproto(text):
    """A text-format protobuf message as {field: [values]}, nested messages
    as dicts. Enough for the configuration's destinations, rules and
    calendar (no extensions, Any or escapes beyond \\")."""
    toks = re.findall(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,;<>]|[^\s{}\[\]:,;<>"#]+|#[^\n]*', text)
    toks = [t for t in toks if not t.startswith("#")]
    pos = 0

    def value(t):
        if t.startswith('"'):
            return t[1:-1].replace('\\"', '"')
        try:
            return int(t)
        except ValueError:
            return t

    def message(end):
        nonlocal pos
        out = {}
        while pos < len(toks) and toks[pos] != end:
            name = toks[pos]
            pos += 1
            if toks[pos] == ":":
                pos += 1
            if toks[pos] in ("{", "<"):
                close = "}" if toks[pos] == "{" else ">"
                pos += 1
                out.setdefault(name, []).append(message(close))
                pos += 1
            elif toks[pos] == "[":
                pos += 1
                while toks[pos] != "]":
                    if toks[pos] == "{":
                        pos += 1
                        out.setdefault(name, []).append(message("}"))
                    elif toks[pos] != ",":
                        out.setdefault(name, []).append(value(toks[pos]))
                    pos += 1
                pos += 1
            else:
                out.setdefault(name, []).append(value(toks[pos]))
                pos += 1
            if pos < len(toks) and toks[pos] in (",", ";"):
                pos += 1
        return out

    return message(None)


def rfc3339(text):
    """Seconds since the epoch (float) of a protobuf JSON Timestamp."""
    whole, _, frac = text.rstrip("Z").partition(".")
    t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


class DeadlineModel:
    """The router's deadline rules (domain/routing/routing_engine.cc
    SetDeadline, core/working_calendar.cc), restated from the configuration
    so the trial can recompute each case_routed deadline from the broker's
    stamp on the event it was routed from: the UTC date of that stamp is the
    submission date; working days skip the weekend and the bank holidays;
    a meeting destination is due at its first meeting on or after the date
    plus cutoff_days_before (else working days); a day deadline is 23:59:59
    London time; a clock-hour destination is due hours after the stamp (or
    after the referral's missing.returnedAt for CHILD_RETURNED)."""

    LONDON = zoneinfo.ZoneInfo("Europe/London")
    DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]

    def __init__(self, config_text):
        cfg = parse_textproto(config_text)
        cal = (cfg.get("calendar") or [{}])[0]
        weekend = cal.get("weekend_days") or ["SATURDAY", "SUNDAY"]
        self.weekend = {self.DAYS.index(d) for d in weekend}
        self.holidays = {datetime.date.fromisoformat(d) for d in cal.get("bank_holidays", [])}
        self.dests = {d["code"][0]: d for d in cfg.get("destinations", [])}
        self.fallback = cfg.get("fallback_destination", [""])[0]
        # (rule id, destination) -> the target's deadline_working_days
        self.overrides = {}
        for rule in cfg.get("rules", []):
            for tgt in rule.get("targets", []):
                if "deadline_working_days" in tgt:
                    self.overrides[(rule["id"][0], tgt["destination"][0])] = tgt["deadline_working_days"][0]

    def working(self, d):
        return d.weekday() not in self.weekend and d not in self.holidays

    def add_working_days(self, d, n):
        if n <= 0:
            while not self.working(d):
                d += datetime.timedelta(days=1)
            return d
        while n:
            d += datetime.timedelta(days=1)
            if self.working(d):
                n -= 1
        return d

    def end_of_london_day(self, d):
        return int(datetime.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=self.LONDON).timestamp())

    def expected(self, destination, rule_id, stamp, referral):
        """The deadlines (unix seconds) the router may give: the rule
        target's working days when it sets them, else the destination's."""
        on = datetime.datetime.fromtimestamp(int(stamp // 1), datetime.timezone.utc).date()
        dest = self.dests.get(destination)
        if dest is None:
            return {self.end_of_london_day(self.add_working_days(on, 0))}
        hours = dest.get("deadline_clock_hours", [0])[0]
        if hours > 0:
            start = int(stamp // 1)
            returned = ((referral or {}).get("missing") or {}).get("returnedAt")
            if dest.get("deadline_from", [""])[0] == "CHILD_RETURNED" and returned:
                start = int(rfc3339(returned) // 1)
            return {start + hours * 3600}
        out = set()
        if (rule_id, destination) in self.overrides:
            out.add(self.end_of_london_day(self.add_working_days(on, self.overrides[(rule_id, destination)])))
        meetings = (dest.get("meetings") or [{}])[0]
        due = None
        if meetings.get("dates"):
            earliest = on + datetime.timedelta(days=meetings.get("cutoff_days_before", [0])[0])
            later = sorted(d for d in map(datetime.date.fromisoformat, meetings["dates"]) if d >= earliest)
            due = later[0] if later else None
        if due is None:
            due = self.add_working_days(on, dest.get("ack_deadline_working_days", [0])[0])
        out.add(self.end_of_london_day(due))
        return out


def check_deadlines(events, config_text, body_of):
    """Recomputes every case_routed deadline from the broker's stamp on the
    referral_submitted (or, for an outcome's second step, the
    outcome_recorded) it was routed from, and checks every deadline_breached
    names that deadline and is stamped after it. refx-delivery routes an
    undeliverable case on (ESCALATED_UNDELIVERABLE) from its own clock's date
    when it decides: that deadline may follow the stamp of the case_escalated
    before it or of the case_routed itself. The log holds only a referral's
    reference; body_of(reference) gives the referral sent (or None).
    Returns (figures, problems)."""
    model = DeadlineModel(config_text)
    submitted, outcome_at, routed, escalated_at = {}, {}, {}, {}
    figures = {"routed": 0, "breaches": 0, "dates": set()}
    problems = []
    for e in events:
        stamp = rfc3339(e["time"]) if e.get("time") else None
        if "referralSubmitted" in e:
            rs = e["referralSubmitted"]
            referral = rs.get("referral") or {}
            if "missing" not in referral:  # refx-faults-dump keeps only the reference
                referral = body_of(referral.get("referrerReference", "")) or referral
            submitted[rs.get("referralId")] = (stamp, referral)
        elif "outcomeRecorded" in e:
            outcome_at[e["outcomeRecorded"].get("referralId")] = stamp
        elif "caseEscalated" in e:
            c = e["caseEscalated"]
            escalated_at[(c.get("referralId"), c.get("escalatedTo"))] = stamp
        elif "caseRouted" in e:
            c = e["caseRouted"]
            rid, dest, rule = c.get("referralId"), c.get("destination"), c.get("ruleId", "")
            got = int(rfc3339(c["deadline"])) if c.get("deadline") else None
            routed[(rid, dest)] = got
            bases = None
            if rule == "ESCALATED_UNDELIVERABLE":
                bases = [b for b in (escalated_at.get((rid, dest)), stamp) if b is not None]
                base, referral = bases[0], None
            elif rule.startswith("OUTCOME:"):
                if rid not in outcome_at:
                    problems.append("%s -> %s: routed on an outcome the log does not hold before it" % (rid, dest))
                    continue
                # RouteOnOutcome counts from the date alone (00:00 UTC).
                base, referral = outcome_at[rid] // 86400 * 86400, None
            elif rid in submitted:
                base, referral = submitted[rid]
            else:
                problems.append("%s -> %s (seq %s): no referral_submitted before it" % (rid, dest, e.get("seq")))
                continue
            figures["routed"] += 1
            figures["dates"].add(int(base // 86400))
            want = set()
            for b in bases or [base]:
                want |= model.expected(dest, rule, b, referral)
            if got not in want:
                problems.append("%s -> %s (seq %s): deadline %s, expected %s from the stamp %s" % (
                    rid, dest, e.get("seq"), c.get("deadline"),
                    " or ".join(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(w)) for w in sorted(want)),
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base))))
        elif "deadlineBreached" in e:
            b = e["deadlineBreached"]
            key = (b.get("referralId"), b.get("destination"))
            figures["breaches"] += 1
            deadline = rfc3339(b["deadline"]) if b.get("deadline") else None
            if key not in routed:
                problems.append("breach of %s -> %s (seq %s) before its case_routed" % (key[0], key[1], e.get("seq")))
            elif routed[key] is not None and deadline is not None and int(deadline) != routed[key]:
                problems.append("breach of %s -> %s (seq %s) names deadline %s, the case has %s" % (
                    key[0], key[1], e.get("seq"), b.get("deadline"),
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(routed[key]))))
            if deadline is not None and stamp is not None and stamp <= deadline:
                problems.append("breach of %s -> %s (seq %s) stamped %s, not after its deadline %s" % (
                    key[0], key[1], e.get("seq"), e.get("time"), b.get("deadline")))
    figures["dates"] = len(figures["dates"])
    return figures, problems


def trial_clock(args, times):
    lib = None
    for cand in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"):
        if os.path.exists(cand):
            lib = cand
    if lib is None:
        return None
    base = os.path.join(args.work, "clock")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    rc = os.path.join(base, "faketime.rc")
    with open(rc, "w") as f:
        f.write("+0\n")
    # Only the wall clock moves: CLOCK_MONOTONIC (timeouts, heartbeats) stays true.
    env = {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": rc, "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    args_work = args.work
    args.work = base
    t = Trial(args, "wall clock stepped +-", times, env=env)
    args.work = args_work
    t.stack.start()
    t.load.start()
    offset = 0
    for i in range(times):
        t.pause()
        offset = t.rng.choice([3 * 3600, 26 * 3600, -2 * 3600, -25 * 3600, 0])
        with open(rc, "w") as f:
            f.write("%+ds\n" % offset)
    with open(rc, "w") as f:
        f.write("+0\n")
    r = t.finish()
    def body_of(reference):
        try:
            with open(os.path.join(t.work, "load", reference + ".json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    figures, problems = check_deadlines(t.events, open(os.path.join(t.work, "config.textproto")).read(), body_of)
    r["deadline_problems"] = len(problems)
    r["notes"] = "; ".join(x for x in [r.get("notes"), "deadlines: %d case_routed recomputed from the stamped "
                                       "submission (%d UTC dates), %d deadline_breached checked, %d wrong" % (
                                           figures["routed"], figures["dates"], figures["breaches"], len(problems))]
                           + problems[:5] if x)
    if not figures["routed"]:
        r["deadline_problems"] += 1  # nothing routed: the check did not run
    return r


def table(rows):
    head = ["trial", "times", "acknowledged", "lost", "duplicated", "ids changed", "chain intact", "events", "result"]
    lines = []
    for r in rows:
        ok = (r["chain"] and r["lost"] == 0 and r["duplicated"] == 0 and r["ids_changed"] == 0 and r["acknowledged"] > 0
              and not r.get("deadline_problems") and not r.get("crashed"))
        r["ok"] = ok
        lines.append([r["trial"], str(r["times"]), str(r["acknowledged"]), str(r["lost"]), str(r["duplicated"]),
                      str(r["ids_changed"]), "yes" if r["chain"] else "NO", str(r["events"]), "pass" if ok else "FAIL"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    out = [fmt % tuple(head), fmt % tuple("-" * w for w in widths)]
    out += [fmt % tuple(l) for l in lines]
    for r in rows:
        if r.get("notes"):
            out.append("  %s: %s" % (r["trial"], r["notes"]))
        if r.get("lost_keys"):
            out.append("  %s: lost: %s" % (r["trial"], ", ".join(r["lost_keys"][:5])))
        if r.get("time_backsteps"):
            out.append("  %s: event time went back %d times (broker wall clock); seqs, chain and checkpoints held"
                       % (r["trial"], r["time_backsteps"]))
        if r.get("unrouted"):
            out.append("  %s: %d referrals not routed by the end" % (r["trial"], r["unrouted"]))
    return "\n".join(out)


def cmd_faults(args):
    n = 2 if args.short else 10
    cuts = args.cuts or (10 if args.short else 25)
    has_fuse = has_faultfs(args)
    plan = [("SIGKILL broker", lambda: trial_kill(args, "broker", n))]
    plan += [("SIGKILL " + s, lambda s=s: trial_kill(args, s, n)) for s in SERVICES]
    if os.path.exists(os.path.join(args.build, "bin", "refx-adapter")):
        plan.append(("SIGKILL adapter", lambda: trial_kill(args, "adapter", n)))
    if has_fuse:
        plan.append(("power loss", lambda: trial_power(args, cuts)))
    plan.append(("file system full", lambda: trial_disk_full(args, 1 if args.short else 4)))
    plan.append(("pause", lambda: trial_pause(args, 2 if args.short else 6)))
    plan.append(("clock", lambda: trial_clock(args, 3 if args.short else 8)))
    rows, skipped = [], []
    if not has_fuse:
        skipped.append("power loss (no /dev/fuse, fusermount3 or refx-faultfs)")
    if args.only:
        plan = [(name, run) for name, run in plan if re.search(args.only, name)]
    for name, run in plan:
        log("faults: %s ..." % name)
        started = time.time()
        try:
            r = run()
        except Exception as e:  # a harness failure is a failed row, not a crash of the table
            traceback.print_exc()
            r = {"trial": name, "times": 0, "acknowledged": 0, "lost": 0, "duplicated": 0, "ids_changed": 0,
                 "chain": False, "events": 0, "notes": "harness: %s" % e}
        finally:
            cleanup()
        if r is None:
            skipped.append(name + " (libfaketime not installed)")
            continue
        r["seconds"] = round(time.time() - started, 1)
        rows.append(r)
    print(table(rows))
    for s in skipped:
        print("skipped: " + s)
    print("load: %s (2 cores);  %s" % (os.getloadavg()[0], time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if rows and all(r.get("ok") for r in rows) else 1


# --- soak ---------------------------------------------------------------------

def proc_sample(pid):
    try:
        rss = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        fds = len(os.listdir("/proc/%d/fd" % pid))
        return rss, fds
    except OSError:
        return None, None


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def svg_chart(title, unit, times, series):
    """An inline SVG line chart: one line per series over elapsed seconds."""
    w, h, left, bottom = 720, 240, 70, 30
    top = max([max(v for v in vals if v is not None) for vals in series.values() if any(x is not None for x in vals)]
              or [1]) or 1
    tmax = max(times) if times else 1
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">' %
             (w, h + 40, html.escape(title)),
             '<text x="%d" y="14" font-size="13" font-weight="bold">%s</text>' % (left, html.escape(title)),
             '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (left, h, w - 10, h),
             '<line x1="%d" y1="20" x2="%d" y2="%d" stroke="#999"/>' % (left, left, h)]
    for frac in (0, 0.5, 1):
        y = h - frac * (h - 20)
        parts.append('<text x="%d" y="%.0f" font-size="10" text-anchor="end">%s</text>' %
                     (left - 4, y + 3, html.escape(fmt_unit(top * frac, unit))))
    parts.append('<text x="%d" y="%d" font-size="10">0 s</text>' % (left, h + 12))
    parts.append('<text x="%d" y="%d" font-size="10" text-anchor="end">%d s</text>' % (w - 10, h + 12, tmax))
    for i, (name, vals) in enumerate(series.items()):
        pts = ["%.1f,%.1f" % (left + (t / tmax) * (w - 10 - left), h - (v / top) * (h - 20))
               for t, v in zip(times, vals) if v is not None]
        c = colours[i % len(colours)]
        parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (c, " ".join(pts)))
        parts.append('<text x="%d" y="%d" font-size="11" fill="%s">%s</text>' % (left + 110 * i, h + 30, c,
                                                                                  html.escape(name)))
    parts.append("</svg>")
    return "\n".join(parts)


def fmt_unit(v, unit):
    if unit == "bytes":
        return "%.1f MiB" % (v / 1048576)
    return "%.0f" % v


def cmd_soak(args):
    t = Trial(args, "soak", 0)
    t.stack.start()
    t.load.start()
    start = time.time()
    end = start + args.minutes * 60
    names = t.stack.components()
    times, rss, fds = [], {n: [] for n in names}, {n: [] for n in names}
    disk = {"event log": [], "service state": []}
    kills = []
    next_kill = start + args.kill_every
    while time.time() < end:
        now = time.time()
        times.append(round(now - start, 1))
        for n in names:
            p = t.stack.procs.get(n)
            r, f = proc_sample(p.pid) if p is not None and p.poll() is None else (None, None)
            rss[n].append(r)
            fds[n].append(f)
        disk["event log"].append(du(t.stack.data))
        disk["service state"].append(du(t.stack.state))
        if now >= next_kill:
            victim = t.rng.choice(t.stack.components())
            t.stack.kill(victim)
            time.sleep(0.2)
            t.stack.restart(victim)
            kills.append((round(now - start, 1), victim))
            next_kill = now + args.kill_every
        time.sleep(args.sample_every)
    t.times = len(kills)
    r = t.finish()
    rows = [r]
    report = [
        "<!doctype html><html><head><meta charset='utf-8'><title>refx soak</title>",
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}</style></head><body>",
        "<h1>refx soak: %g minutes, a kill every %g s</h1>" % (args.minutes, args.kill_every),
        "<p>%s; load average %.2f on %d cores; %d samples every %.0f s.</p>" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()[0], os.cpu_count(), len(times),
            args.sample_every),
        "<table><tr><th>acknowledged</th><th>lost</th><th>duplicated</th><th>ids changed</th><th>chain intact</th>"
        "<th>events</th><th>kills</th></tr><tr><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%d</td>"
        "<td>%d</td></tr></table>" % (r["acknowledged"], r["lost"], r["duplicated"], r["ids_changed"],
                                       "yes" if r["chain"] else "NO", r["events"], len(kills)),
        svg_chart("Resident memory (RSS) per process", "bytes", times, rss),
        svg_chart("Open file descriptors per process", "count", times, fds),
        svg_chart("Disk use", "bytes", times, disk),
        "<h2>Kills</h2><p>%s</p>" % html.escape(", ".join("%s at %ss" % (v, s) for s, v in kills) or "none"),
        "</body></html>"]
    with open(args.out, "w") as f:
        f.write("\n".join(report))
    print(table(rows))
    print("peak RSS: " + ", ".join("%s %.1f MiB" % (n, max([v for v in rss[n] if v] or [0]) / 1048576) for n in names))
    print("peak fds: " + ", ".join("%s %d" % (n, max([v for v in fds[n] if v] or [0])) for n in names))
    print("report: " + args.out)
    return 0 if r["lost"] == 0 and r["duplicated"] == 0 and r["ids_changed"] == 0 and r["chain"] else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["faults", "soak"])
    ap.add_argument("--short", action="store_true", help="fewer faults per trial (CI)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default=os.path.join(ROOT, "var", "faults"))
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--port-base", type=int, default=21000, help="first ports to try (each trial looks for free ones)")
    ap.add_argument("--cuts", type=int, help="faults: power cuts in the power-loss trial (default 25, --short 10)")
    ap.add_argument("--only", help="faults: run only the trials whose name matches this regex")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--kill-every", type=float, default=20)
    ap.add_argument("--sample-every", type=float, default=2)
    ap.add_argument("--out", help="soak: the HTML report (default WORK/soak.html)")
    args = ap.parse_args()
    if args.command == "soak" and args.out is None:
        args.out = os.path.join(args.work, "soak.html")
    os.makedirs(args.work, exist_ok=True)
    log("seed %d, work %s" % (args.seed, args.work))
    args.templates = load_templates(args.build, args.work)
    return cmd_faults(args) if args.command == "faults" else cmd_soak(args)


if __name__ == "__main__":
    sys.exit(main())
