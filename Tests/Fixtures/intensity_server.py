#!/usr/bin/env python3
"""A stand-in for the grid-intensity providers on 127.0.0.1, answering in each provider's documented format.

Usage: intensity_server.py PORT_FILE. Binds an ephemeral port on 127.0.0.1, writes it to PORT_FILE, serves until
killed. The first path segment picks the behaviour, the rest is the provider's own path:

  /ok/...          the documented payload (figures: 100 + 10 × (hour of day mod 12) g/kWh, or the lb/MWh of it)
  /status/N/...    HTTP N with a provider-like error body (Retry-After: 120 with 429)
  /slow/...        answers after 5 s (a client timeout below that fails)
  /malformed/...   200 with a body that is not the documented format
  /truncated/...   200 with JSON cut in half
  /gaps/...        the documented payload with null figures and a missing period
  /empty/...       the documented payload with no figures
  /huge/...        200 with a 40 MB body (past the fetcher's 16 MiB cap), written in 1 MB pieces
  /drip/...        200 with a 1,000-byte length and one byte every 0.5 s
  /redirect/...    302 to the same path under /ok/ on http://localhost:PORT (another origin: the token must not go)

Every request's Host and auth-token/Authorization headers are appended to PORT_FILE.requests.

Carbon Intensity API: https://carbon-intensity.github.io/api-definitions/ . Energi Data Service:
https://www.energidataservice.dk/tso-electricity/CO2Emis . Electricity Maps: https://static.electricitymaps.com/api/docs/
. WattTime: https://docs.watttime.org/ .
"""
import base64
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "test-token"
WATTTIME_ACCOUNT = "user:secret"
WATTTIME_BEARER = "wt-bearer-1"


def value(at):
    return 100 + 10 * (at.hour % 12)


def minute(at):
    return at.strftime("%Y-%m-%dT%H:%MZ")


def periods(start, end, step):
    at = start
    while at < end:
        yield at
        at += step


def now_floor(step_minutes):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % step_minutes)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, text in (headers or {}).items():
            self.send_header(name, text)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        parts = url.path.split("/")
        mode = parts[1]
        rest = parts[2:]
        with open(sys.argv[1] + ".requests", "a") as log:
            log.write(f"{self.headers.get('Host')} {self.headers.get('auth-token')} "
                      f"{self.headers.get('Authorization')}\n")
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b" " * 1_000_000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.5)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if mode == "redirect":
            port = self.server.server_address[1]
            target = f"http://localhost:{port}/ok/" + "/".join(rest) + (f"?{url.query}" if url.query else "")
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "status":
            status = int(rest[0])
            headers = {"Retry-After": "120"} if status == 429 else {}
            return self.send(status, {"error": {"code": f"{status}", "message": "stand-in error"}}, headers)
        if mode == "slow":
            time.sleep(5)
        path = "/" + "/".join(rest[1:] if mode == "status" else rest)
        query = parse_qs(url.query)
        body = self.payload(path, query, mode)
        if body is None:
            return
        if mode == "malformed":
            body = {"unexpected": "shape", "data": "not a list"}
        if mode == "truncated":
            text = json.dumps(body).encode()
            return self.send(200, text[: len(text) // 2])
        self.send(200, body)

    def payload(self, path, query, mode):
        gaps = mode == "gaps"
        empty = mode == "empty"
        now = now_floor(30)
        if path.startswith("/intensity/") or path.startswith("/regional/intensity/"):
            forward = "fw48h" in path
            start, end = (now, now + timedelta(hours=48)) if forward else (now - timedelta(hours=24), now)
            rows = []
            for index, at in enumerate(periods(start, end, timedelta(minutes=30))):
                if empty or (gaps and index == 3):
                    continue
                figure = value(at)
                actual = None if (forward and at >= now) or (gaps and index == 5) else figure - 2
                intensity = {"forecast": figure, "index": "moderate"}
                if not path.startswith("/regional/"):
                    intensity["actual"] = actual
                rows.append({"from": minute(at), "to": minute(at + timedelta(minutes=30)), "intensity": intensity})
            if path.startswith("/regional/"):
                region = int(path.rsplit("/", 1)[1])
                return {"data": {"regionid": region, "dnoregion": "UKPN London", "shortname": "London", "data": rows}}
            return {"data": rows}
        if path.startswith("/dataset/"):
            dataset = path.split("/")[2]
            area = json.loads(query.get("filter", ['{"PriceArea":["DK1"]}'])[0])["PriceArea"][0]
            start, end = (
                (now, now + timedelta(hours=24)) if dataset == "CO2EmisProg" else (now - timedelta(hours=24), now)
            )
            records = []
            for index, at in enumerate(periods(start, end, timedelta(minutes=5))):
                if empty or (gaps and index in (7, 8)):
                    continue
                records.append({
                    "Minutes5UTC": at.strftime("%Y-%m-%dT%H:%M:%S"),
                    "Minutes5DK": (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                    "PriceArea": area,
                    "CO2Emission": None if gaps and index == 9 else float(value(at)),
                })
            return {"total": len(records), "filters": json.dumps({"PriceArea": [area]}), "limit": 0,
                    "dataset": dataset, "records": records}
        if path.startswith("/v3/carbon-intensity/"):
            if self.headers.get("auth-token") != TOKEN:
                self.send(401, {"status": "error", "message": "Invalid token"})
                return None
            zone = query.get("zone", ["DE"])[0]
            hour = now.replace(minute=0)
            forward = path.endswith("/forecast")
            start, end = (hour, hour + timedelta(hours=24)) if forward else (hour - timedelta(hours=24), hour)
            entries = []
            for index, at in enumerate(periods(start, end, timedelta(hours=1))):
                if empty:
                    continue
                entry = {"carbonIntensity": None if gaps and index == 2 else value(at),
                         "datetime": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
                if not forward:
                    entry.update({"zone": zone, "updatedAt": "2026-01-01T00:00:00.000Z",
                                  "createdAt": "2026-01-01T00:00:00.000Z", "emissionFactorType": "lifecycle",
                                  "isEstimated": False, "estimationMethod": None})
                entries.append(entry)
            key = "forecast" if forward else "history"
            return {"zone": zone, key: entries, "updatedAt": "2026-01-01T00:00:00.000Z"}
        if path == "/login":
            expected = "Basic " + base64.b64encode(WATTTIME_ACCOUNT.encode()).decode()
            if self.headers.get("authorization") != expected:
                self.send(403, {"error": "invalid credentials"})
                return None
            return {"token": WATTTIME_BEARER}
        if path in ("/v3/historical", "/v3/forecast"):
            if self.headers.get("authorization") != "Bearer " + WATTTIME_BEARER:
                self.send(401, {"error": "unauthorized"})
                return None
            forward = path.endswith("forecast")
            start, end = (now, now + timedelta(hours=24)) if forward else (now - timedelta(hours=24), now)
            data = [] if empty else [
                {"point_time": at.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "value": value(at) / 0.45359237}
                for at in periods(start, end, timedelta(minutes=5))
            ]
            return {"data": data, "meta": {"data_point_period_seconds": 300, "region": query.get("region", [""])[0],
                                           "signal_type": "co2_moer", "units": "lbs_co2_per_mwh",
                                           "generated_at": minute(now), "model": {"date": "2026-01-01"}}}
        self.send(404, {"error": "no such route"})
        return None


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1] + ".tmp", "w") as handle:
        handle.write(str(server.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
