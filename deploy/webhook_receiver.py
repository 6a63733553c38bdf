#!/usr/bin/python3
"""A stand-in for an agency's case system, for the demo: receives refx-adapter
webhooks (adapters/webhook/README.md), checks each request's signature
(HMAC-SHA256 over X-Refx-Timestamp + "." + body) and replay window, and keeps
what it took.

  webhook_receiver.py --listen 127.0.0.1:PORT --secret-file FILE --out DIR

Each request appends one line to DIR/received.log
  "<X-Refx-Delivery> signature ok" (answered 200)  or  "... REFUSED: why" (401)
and a valid one's body (the case_delivered event, protobuf JSON) is written
to DIR/<referral>-<destination>-<attempt>.json. Synthetic data only: the
bodies hold the case's need-to-know view.
"""
import argparse
import hashlib
import hmac
import http.server
import os
import time

WINDOW_SECONDS = 300


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.secret_file, "rb") as f:
        secret = f.read().rstrip()
    os.makedirs(args.out, exist_ok=True)
    host, port = args.listen.rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ts = self.headers.get("X-Refx-Timestamp", "")
            sig = self.headers.get("X-Refx-Signature", "")
            delivery = self.headers.get("X-Refx-Delivery", "?")
            want = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            why = None
            if not hmac.compare_digest(want, sig):
                why = "signature does not match"
            elif not ts.isdigit() or abs(time.time() - int(ts)) > WINDOW_SECONDS:
                why = "outside the replay window"
            with open(os.path.join(args.out, "received.log"), "a") as log:
                log.write(f"{delivery} " + ("signature ok" if why is None else f"REFUSED: {why}") + "\n")
            if why is None:
                name = delivery.replace("/", "-") + ".json"
                with open(os.path.join(args.out, name), "wb") as f:
                    f.write(body)
            self.send_response(200 if why is None else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *unused):
            pass

    http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
