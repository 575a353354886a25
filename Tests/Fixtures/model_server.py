"""A stand-in for a deployed model's server: standard-library HTTP, CPU work per request, and its own Prometheus
counter of the requests it served, as vLLM or TGI expose theirs.

argv: PORT PIDFILE [WORK_MS]. `POST /infer` (or GET) spends WORK_MS (default 20) of CPU time (its thread's, so
that a request's work does not depend on how many run at once) and answers 200;
`GET /metrics` answers `model_requests_total{code="200"} N` and a decoy series; `GET /served` answers N alone;
`GET /nan` a counter that is NaN, `GET /slow` the metrics 10 s late, `GET /huge` 9 MiB of comments before them.
"""
import http.server
import os
import sys
import threading
import time

port, pidfile = int(sys.argv[1]), sys.argv[2]
work = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.02
served = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def answer(self, body, kind="text/plain; version=0.0.4"):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def infer(self):
        global served
        end = time.thread_time() + work
        x = 0
        while time.thread_time() < end:
            x += 1
        with lock:
            served += 1
        self.answer('{"tokens": 1}', "application/json")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.infer()

    def do_GET(self):
        if self.path == "/metrics":
            with lock:
                n = served
            self.answer(
                "# HELP model_requests_total Requests served.\n# TYPE model_requests_total counter\n"
                f'model_requests_total{{code="200"}} {n}\nmodel_requests_total{{code="500"}} 7\n'
                f"model_requests_created 1.7e9\n")
        elif self.path == "/nan":
            self.answer('model_requests_total{code="200"} NaN\n')
        elif self.path == "/slow":
            time.sleep(10)
            self.answer('model_requests_total{code="200"} 1\n')
        elif self.path == "/huge":
            self.answer("# padding\n" * (9 * 1024 * 1024 // 10) + 'model_requests_total{code="200"} 1\n')
        elif self.path == "/served":
            with lock:
                self.answer(str(served))
        else:
            self.infer()


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
with open(pidfile + ".tmp", "w") as f:
    f.write(f"{os.getpid()}\n")
os.rename(pidfile + ".tmp", pidfile)
server.serve_forever()
