"""A stand-in for Prometheus's query API that answers as a hostile or broken server would (hostile input, round 3).

argv: PORT MODE. MODE `values`: per-job counters with NaN, 1e308, negative and out-of-range values, and a second user
labelling a job with the same SLURM id. MODE `chunks`: a chunked answer whose chunk size overflows.
"""
import http.server
import json
import sys
import urllib.parse

port, mode = int(sys.argv[1]), sys.argv[2]


def series(host, user, value, kind="package"):
    metric = {"host": host, "job": f"job-{host}", "user": user, "slurm_job_id": "77", "domain_kind": kind}
    return {"metric": metric, "value": [1700000000.0, value]}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if mode == "chunks":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc\r\n0\r\n\r\n")
            return
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)["query"][0]
        if "timestamp" in query:
            values = {"nodeA": "1700000000", "nodeB": "NaN", "nodeC": "1e308", "nodeD": "1700000000"}
        elif "carbon" in query:
            values = {"nodeA": "2.5", "nodeB": "-1", "nodeC": "NaN", "nodeD": "3"}
        else:
            values = {"nodeA": "100", "nodeB": "NaN", "nodeC": "-5", "nodeD": "1e308"}
        result = [series(host, "alice", value) for host, value in values.items()]
        if "sustain_job_energy" in query and "timestamp" not in query:
            result.append(series("nodeM", "mallory", "1000"))
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
