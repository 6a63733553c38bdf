#!/usr/bin/env python3
"""Tests of deploy/privacy_sweep.py on planted folders: it passes a clean
state folder, and it fails — naming the file and line (or the endpoint),
never the value — when a sentinel of the sample data is in a log, a
metrics answer, an alert report or the raw data folder. Run by ctest
(tests/privacy/CMakeLists.txt)."""

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWEEP = os.path.join(ROOT, "deploy", "privacy_sweep.py")
SAMPLES = os.path.join(ROOT, "deploy", "samples")

with open(os.path.join(SAMPLES, "02-da-high-risk-children.json"), encoding="utf-8") as f:
    PERSON = json.load(f)["person"]
FAMILY = PERSON["familyName"]
Y, M, D = PERSON["dateOfBirth"].split("-")
DOB_UK = f"{D}/{M}/{Y}"  # as a police export would write it

CLEAN_LOG = """[2026-12-05 01:02:03.456] [info] broker: accepted R-2026-000002 from kent-police (seq 2)
[2026-12-05 01:02:03.500] [info] router: R-2026-000002 -> DA_MARAC (rule DA_HIGH_RISK), seq 9
[2026-12-05 01:02:04.000] [warning] delivery: frost on the window, nothing personal; Sample Close is a street
"""


def Write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def Sweep(state, *extra):
    run = subprocess.run(["/usr/bin/python3", SWEEP, state, "--samples", SAMPLES, *extra],
                         capture_output=True, text=True, timeout=120)
    return run.returncode, run.stdout + run.stderr


class StateFolder(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.state = self.tmp.name
        Write(f"{self.state}/log/broker.log", CLEAN_LOG)
        Write(f"{self.state}/log/router.log", CLEAN_LOG)
        Write(f"{self.state}/mail/new/1.eml", "Subject: refx: R-2026-000002 at DA_MARAC: acknowledge by 2026-12-07\n")
        # A binary file like RocksDB's: random bytes with sealed data.
        Write(f"{self.state}/data/000012.sst", os.urandom(200000) + b"\0", "wb")
        # Outputs that hold personal data by purpose are not findings.
        Write(f"{self.state}/demo.log", f"person: {PERSON['givenName']} {FAMILY}\n")
        Write(f"{self.state}/case-system/R-2026-000002-PREVENT-1.json", json.dumps(PERSON))
        Write(f"{self.state}/inbox/kent-police/done/export.csv", f"x,{FAMILY},{DOB_UK}\n")

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_clean_folder_passes(self):
        code, out = Sweep(self.state)
        self.assertEqual(code, 0, out)
        self.assertIn("no personal data found", out)
        self.assertIn("not searched: demo.log", out)  # every exclusion is named with its reason

    def Finds(self, rel, content, expected, value, mode="w"):
        """Plants `content` at `rel`; the sweep fails with `expected` in its output, never `value`."""
        Write(f"{self.state}/{rel}", content, mode)
        code, out = Sweep(self.state)
        self.assertEqual(code, 1, out)
        self.assertIn(expected, out)
        self.assertNotIn(value, out)

    def test_a_name_in_a_log_fails_naming_file_and_line_not_the_value(self):
        self.Finds("log/router.log", CLEAN_LOG + f"[info] router: matched subject {FAMILY}\n",
                   "log/router.log:4: person.name in 02-da-high-risk-children.json (family name)", FAMILY)

    def test_a_date_of_birth_in_another_format_fails(self):
        self.Finds("log/adapter-kent-police.log", f"row 3: bad value {DOB_UK} in column Victim DOB\n",
                   "log/adapter-kent-police.log:1: person.dateOfBirth in 02-da-high-risk-children.json", DOB_UK)

    def test_a_rejected_files_report_is_searched(self):
        self.Finds("inbox/kent-police/rejected/bad.csv.report.txt", f"row 2: {PERSON['phone']}\n",
                   "inbox/kent-police/rejected/bad.csv.report.txt:1: person.phone", PERSON["phone"])

    def test_plaintext_in_the_data_folder_fails(self):
        self.Finds("data/000013.log", os.urandom(5000) + PERSON["address"].encode() + b"\0",
                   "data/000013.log: byte 5000: person.address in 02-da-high-risk-children.json (not sealed)",
                   PERSON["address"], "wb")

    def test_a_metrics_answer_is_searched(self):
        body = b"refx_up 1\n" + f'refx_last_subject{{name="{PERSON["givenName"]} {FAMILY}"}} 1\n'.encode()

        class Metrics(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *unused):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Metrics)
        self.addCleanup(server.server_close)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            code, out = Sweep(self.state, "--url", f"router={url}")
        finally:
            server.shutdown()
        self.assertEqual(code, 1, out)
        self.assertIn(f"router {url} line 2: person.name in 02-da-high-risk-children.json", out)
        self.assertNotIn(FAMILY, out)

    def test_an_unreachable_endpoint_is_a_finding_not_a_pass(self):
        code, out = Sweep(self.state, "--url", "broker=http://127.0.0.1:9/metrics")
        self.assertEqual(code, 1, out)
        self.assertIn("not searched", out)


if __name__ == "__main__":
    unittest.main()
