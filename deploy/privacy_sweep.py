#!/usr/bin/env python3
"""Sentinel sweep: no personal data of the sample people in a stack's logs,
metrics or other non-personal outputs (issue 13, docs/SECURITY.md "Where
copies live").

    deploy/privacy_sweep.py STATE_DIR [--samples DIR]... [--url LABEL=URL]...

Builds the sentinel list from the synthetic sample data itself (every
*.json referral and *.csv export under each --samples folder; default
deploy/samples/ and STATE_DIR/samples/ when it exists, the copies the demo
submitted with their dates moved): the people's names, dates of birth in
the formats they could be written in, addresses and postcodes, phone
numbers, e-mail addresses and snippets of free text. Then it searches

  * every file under STATE_DIR except the outputs that are meant to hold
    personal data (EXCLUDED below, each with the reason; printed every run):
    text files line by line, binary files (RocksDB's data folder, its
    backups, service snapshots) byte by byte — personal fields there must be
    sealed;
  * every URL given (each component's /metrics and /healthz).

Exit 0 when nothing is found, 1 when a sentinel is found (each finding names
the file and line, or URL and line, and the sentinel's label — which field of
which sample file — never the value), 2 on a usage error.
"""

import argparse
import csv
import datetime
import fnmatch
import json
import os
import re
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Outputs that are meant to hold personal data, relative to the state folder.
EXCLUDED = [
    ("samples/*", "the demo's input: the synthetic referrals themselves (dates moved to today)"),
    ("kp-http-referral.json", "the demo's input: the sample it posts to the adapter's HTTP intake"),
    ("demo.log", "the demo's transcript: it prints what authorised people are shown (a destination's need-to-know "
                 "view with `refx inbox show`, the webhook body the case system received)"),
    ("case-system/*.json", "the stand-in case system's copies of the webhook bodies: the PREVENT need-to-know view, "
                           "delivered to Kent Police by purpose (its received.log is searched)"),
    ("inbox/*/done/*", "the agency's own exports the adapter took whole, kept for done_retention_days "
                       "(adapters/filedrop)"),
    ("inbox/*/rejected/*", "rejected exports, kept whole until a person corrects and retries them "
                           "(their .report.txt is searched)"),
    ("inbox/*/*.csv", "an export dropped for the adapter and not yet taken"),
    ("inbox/*/*.json", "a referral dropped for the adapter and not yet taken"),
    ("inbox/*/*.jsonl", "referrals dropped for the adapter and not yet taken"),
    ("spool/new/*", "referrals the adapter holds until the broker has acknowledged them (then removed)"),
    ("spool/tmp/*", "a spool unit being written (removed at the adapter's start)"),
]
# ... but these are searched even where a pattern above matches.
ALWAYS_SEARCHED = ["inbox/*/rejected/*.report.txt"]

# Folders whose files are binary (RocksDB, BackupEngine), searched byte by byte.
MIN_LEN_TEXT = 4     # shorter sentinels make false positives (and say little)
MIN_LEN_BINARY = 8   # sealed data is random: 8 bytes never match by chance

# Single words never used alone as sentinels: too common to tell anything.
COMMON_WORDS = {
    "sample", "example", "close", "road", "street", "lane", "house", "court", "flat", "terrace", "avenue",
    "drive", "place", "green", "park", "view", "hill", "way", "row", "vale", "wood", "field", "mark", "grace",
    "rose", "hope", "young", "white", "black", "brown", "green", "long", "hall", "king", "wells", "north",
    "south", "east", "west", "police", "kent", "town", "sevenoaks", "swanley", "edenbridge", "westerham",
    "unknown", "none", "victim", "suspect", "pike", "wren", "hart", "marsh", "frost", "finch", "brooke",
}

TITLES = {"dc", "pc", "ds", "di", "dci", "sgt", "mr", "mrs", "ms", "miss", "dr", "rev", "cllr"}

POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][0-9A-Z]?\s?[0-9][A-Z]{2}\b")

# Paths (dotted, [] for list items) of JSON strings that are free text
# about people; other strings are short fields the classes below name.
NON_PERSONAL_TEXT = {".referrer.role", ".context.name", ".context.ward", ".businessCrime.memberBusiness",
                     ".businessCrime.incidents[].store"}
NAME_FIELDS = {".perpetrator.name", ".referrer.name"}
NOT_SENTINELS = {".context.linkedPeople[]"}  # pseudonymous labels ("YP-A (age 14)")
# JSON keys (wherever they are) and the kind of their value.
JSON_KINDS = {"dateOfBirth": "date", "address": "address", "phone": "phone", "email": "email"}


class Sentinels:
    """Sentinel value -> label ("person.familyName in 02-da-....json")."""

    def __init__(self):
        self.values = {}
        # Words of non-personal text (the configuration, the samples' other
        # fields): a one-word sentinel among them would match innocent lines.
        self.corpus = set(COMMON_WORDS)
        self.corpus_text = []
        self.dropped = 0

    def add(self, value, label):
        value = " ".join(str(value).split())
        if len(value) < MIN_LEN_TEXT:
            return
        self.values.setdefault(value, label)

    def note_non_personal(self, text):
        text = " ".join(str(text).split()).lower()
        self.corpus.update(re.findall(r"[a-z]+", text))
        self.corpus_text.append(text)

    def finish(self):
        """Drops sentinels that non-personal text uses too: one-word ones
        among its words, longer ones (a snippet of free text such as "a repeat
        within 12 months of the last MARAC") within it."""
        text = "\n".join(self.corpus_text)
        for value in list(self.values):
            if value.lower() in self.corpus if " " not in value and value.isalpha() else value.lower() in text:
                del self.values[value]
                self.dropped += 1

    def add_kind(self, kind, value, label):
        """`value` of a field of `kind` (JSON_KINDS, CsvKind)."""
        {"name": self.add_name, "date": self.add_date, "address": self.add_address, "phone": self.add_phone,
         "text": self.add_text}.get(kind, self.add)(value, label)

    def add_name(self, full, label):
        words = [w for w in full.replace(",", " ").split() if w.lower().strip(".") not in TITLES]
        if not words:
            return
        self.add(" ".join(words), label)
        if len(words) >= 2:
            self.add(words[-1], label + " (family name)")

    def add_date(self, date, label):
        for text in DateForms(date):
            self.add(text, label)

    def add_phone(self, phone, label):
        digits = re.sub(r"\D", "", phone)
        if len(digits) < 9:
            return
        self.add(phone, label)
        self.add(digits, label)
        if digits.startswith("0"):
            self.add("+44" + digits[1:], label)
            self.add("+44 " + digits[1:5] + " " + digits[5:], label)

    def add_address(self, address, label):
        self.add(address, label)
        first = address.split(",")[0].strip()
        if re.search(r"\d", first) and len(first) >= 8:
            self.add(first, label + " (first line)")
        for postcode in POSTCODE.findall(address.upper()):
            self.add(postcode, label + " (postcode)")

    def add_text(self, text, label):
        words = text.split()
        if len(text) < 25 or len(words) < 4:
            return
        self.add(text, label)
        # A log line may carry a cut-off start or end of it.
        self.add(" ".join(words[:5]), label + " (its first words)")
        self.add(" ".join(words[-5:]), label + " (its last words)")


def DateForms(date):
    """The ways a date of birth could be written."""
    d = date if isinstance(date, datetime.date) else None
    if d is None:
        for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%b-%Y", "%d-%m-%Y", "%d %B %Y"):
            try:
                d = datetime.datetime.strptime(str(date).strip()[:11].strip(), fmt).date()
                break
            except ValueError:
                continue
    if d is None:
        return []
    return [d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%d.%m.%Y"), d.strftime("%d-%m-%Y"),
            d.strftime("%d-%b-%Y"), d.strftime("%Y%m%d"), f"{d.day} {d.strftime('%B %Y')}",
            f"{d.day} {d.strftime('%b %Y')}", f"{d.strftime('%B')} {d.day}, {d.year}", d.strftime("%Y/%m/%d")]


def FromJson(sentinels, path, name):
    try:
        with open(path, encoding="utf-8") as f:
            referral = json.load(f)
    except (OSError, ValueError):
        return  # invalid samples (not JSON) carry nothing to look for
    def walk(node, where):
        if isinstance(node, dict):
            if "givenName" in node or "familyName" in node:
                full = " ".join(str(node.get(k, "")) for k in ("givenName", "familyName")).strip()
                sentinels.add_name(full, f"{where[1:] or 'person'}.name in {name}")
                if node.get("familyName"):
                    sentinels.add(node["familyName"], f"{where[1:]}.familyName in {name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where + "[]")
        elif isinstance(node, str):
            key = where.rsplit(".", 1)[-1].rstrip("[]")
            if where in NOT_SENTINELS or key in ("givenName", "familyName"):
                return
            kind = "name" if where in NAME_FIELDS else JSON_KINDS.get(key)
            if kind is None and where not in NON_PERSONAL_TEXT and len(node) >= 25 and len(node.split()) >= 4:
                kind = "text"
            if kind:
                sentinels.add_kind(kind, node, f"{where[1:]} in {name}")
            else:
                sentinels.note_non_personal(node)
    walk(referral, "")


def CsvKind(header):
    h = header.lower()
    if "email" in h:
        return "email"
    if "phone" in h:
        return "phone"
    if "dob" in h.split() or "date of birth" in h:
        return "date"
    if "postcode" in h:
        return "postcode"
    if "address" in h:
        return "address"
    if "forename" in h or "first name" in h:
        return "given"
    if "surname" in h or "last name" in h:
        return "family"
    if h in ("oic", "recorded by", "housing officer") or h.endswith(" name"):
        return "name"
    if any(w in h for w in ("summary", "details", "notes", "description", "narrative")):
        return "text"
    return None


def FromCsv(sentinels, path, name):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kinds = [CsvKind(h) for h in rows[0]]
    for header in rows[0]:
        sentinels.note_non_personal(header)
    for number, row in enumerate(rows[1:], start=2):
        given = family = ""
        for header, kind, value in zip(rows[0], kinds, row):
            value = value.strip()
            if not kind:
                sentinels.note_non_personal(value)
            if not kind or not value:
                continue
            if kind == "given":
                given = value
                continue
            if kind == "family":
                family = value
            sentinels.add_kind(kind, value, f"column \"{header}\" of row {number} in {name}")
        if given or family:
            sentinels.add_name(f"{given} {family}", f"name of row {number} in {name}")


def Build(sample_dirs):
    sentinels = Sentinels()
    for dirpath, _, names in os.walk(os.path.join(ROOT, "deploy", "config")):
        for n in names:
            with open(os.path.join(dirpath, n), encoding="utf-8", errors="replace") as f:
                sentinels.note_non_personal(f.read())
    files = 0
    for folder in sample_dirs:
        for dirpath, _, names in os.walk(folder):
            for n in sorted(names):
                path = os.path.join(dirpath, n)
                shown = os.path.relpath(path, folder)
                if n.endswith(".json"):
                    FromJson(sentinels, path, shown)
                elif n.endswith(".csv"):
                    FromCsv(sentinels, path, shown)
                else:
                    continue
                files += 1
    sentinels.finish()
    return sentinels, files


class Matcher:
    """Finds sentinels in text (case-insensitive, whole words) and bytes (exact)."""

    def __init__(self, sentinels):
        # One word (a family name): as written, so that "Frost" does not
        # match "frost"; longer sentinels in any case.
        self.text = [(v if " " not in v else v.lower(), " " not in v, label) for v, label in sentinels.values.items()]
        self.binary = [(v.encode(), label) for v, label in sentinels.values.items()
                       if len(v.encode()) >= MIN_LEN_BINARY]

    def in_line(self, line):
        if "\\" in line:
            line += "\n" + line.replace("\\", "")  # escaped quotes and the like in log lines
        lower = line.lower()
        found = []
        for value, exact, label in self.text:
            low = line if exact else lower
            start = low.find(value)
            while start >= 0:
                end = start + len(value)
                before = low[start - 1] if start > 0 else " "
                after = low[end] if end < len(low) else " "
                if not before.isalnum() and not after.isalnum():
                    found.append(label)
                    break
                start = low.find(value, start + 1)
        return found

    def in_bytes(self, data):
        return [(data.find(value), label) for value, label in self.binary if value in data]


def Excluded(rel):
    if any(fnmatch.fnmatch(rel, p) for p in ALWAYS_SEARCHED):
        return None
    for pattern, why in EXCLUDED:
        if fnmatch.fnmatch(rel, pattern):
            return pattern
    return None


def Search(matcher, state, urls):
    findings = []
    counts = {"files": 0, "lines": 0, "binary": 0, "urls": 0}
    excluded = {}
    for dirpath, dirnames, names in os.walk(state):
        dirnames.sort()
        for n in sorted(names):
            path = os.path.join(dirpath, n)
            rel = os.path.relpath(path, state)
            pattern = Excluded(rel)
            if pattern:
                excluded[pattern] = excluded.get(pattern, 0) + 1
                continue
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                findings.append(f"{rel}: cannot be read ({e.strerror}): not searched")
                continue
            counts["files"] += 1
            if b"\0" in data[:65536]:
                counts["binary"] += 1
                for offset, label in matcher.in_bytes(data):
                    findings.append(f"{rel}: byte {offset}: {label} (not sealed)")
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
                counts["lines"] += 1
                for label in matcher.in_line(line):
                    findings.append(f"{rel}:{number}: {label}")
    for label, url in urls:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                body = answer.read().decode("utf-8", "replace")
        except OSError as e:
            body = getattr(e, "read", lambda: b"")().decode("utf-8", "replace") if hasattr(e, "read") else ""
            if not body:
                findings.append(f"{label} {url}: no answer ({e}): not searched")
                continue
        counts["urls"] += 1
        for number, line in enumerate(body.splitlines(), start=1):
            for found in matcher.in_line(line):
                findings.append(f"{label} {url} line {number}: {found}")
    return findings, counts, excluded


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("state", help="the stack's state folder (var/demo after deploy/refx.sh demo)")
    parser.add_argument("--samples", action="append", default=None,
                        help="folder of sample referrals (.json) and exports (.csv); repeatable "
                             "(default: deploy/samples and STATE/samples)")
    parser.add_argument("--url", action="append", default=[], metavar="LABEL=URL",
                        help="an endpoint to fetch and search (a component's /metrics or /healthz)")
    args = parser.parse_args()
    if not os.path.isdir(args.state):
        print(f"privacy sweep: {args.state} is not a folder", file=sys.stderr)
        return 2
    samples = args.samples
    if samples is None:
        samples = [os.path.join(ROOT, "deploy", "samples")]
        if os.path.isdir(os.path.join(args.state, "samples")):
            samples.append(os.path.join(args.state, "samples"))
    for folder in samples:
        if not os.path.isdir(folder):
            print(f"privacy sweep: --samples {folder} is not a folder", file=sys.stderr)
            return 2
    urls = []
    for item in args.url:
        label, sep, url = item.partition("=")
        if not sep or not url.startswith("http"):
            print(f"privacy sweep: --url {item!r} is not LABEL=http://...", file=sys.stderr)
            return 2
        urls.append((label, url))

    sentinels, sample_files = Build(samples)
    if not sentinels.values:
        print("privacy sweep: no sentinels from " + ", ".join(samples) + " (nothing to look for)", file=sys.stderr)
        return 2
    matcher = Matcher(sentinels)
    findings, counts, excluded = Search(matcher, args.state, urls)
    print(f"privacy sweep of {args.state}: {len(sentinels.values)} sentinels from {sample_files} sample files "
          f"({sentinels.dropped} left out as words or phrases of non-personal text); "
          f"searched {counts['files']} files ({counts['lines']} lines of text, {counts['binary']} binary files "
          f"byte by byte) and {counts['urls']} endpoints")
    for pattern, why in EXCLUDED:
        if pattern in excluded:
            print(f"  not searched: {pattern} ({excluded[pattern]} files): {why}")
    if findings:
        print(f"privacy sweep: FAILED: {len(findings)} findings of personal data where none may be:")
        for finding in findings:
            print("  " + finding)
        return 1
    print("privacy sweep: no personal data found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
