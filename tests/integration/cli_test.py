"""The CLI as a user runs it: ingest with bad lines and re-ingest, demo
--if-empty, --help everywhere, clear errors for bad configuration, read-only
commands that never create a store, proxy --upstream forms, cache-analysis
JSON as the seed prints it, hash-key."""
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, free_port, get, post

BINARY = sys.argv[1]


def run(*args, **kwargs):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300, **kwargs)


def main():
    for sub in ([], ["serve"], ["demo"], ["ingest"]):
        r = run(*sub, "--help")
        check(r.returncode == 0 and "--help" in r.stdout, f"genalytics {' '.join(sub)} --help")
    r = run("frobnicate")
    check(r.returncode != 0 and "unknown command 'frobnicate'" in r.stderr and "cache-analysis" in r.stderr,
          f"an unknown subcommand is named: {r.stderr.strip()}")

    r = run("hash-key", "--role", "read", input="s3cret\n")
    check(r.returncode == 0 and r.stdout == "read:" + hashlib.sha256(b"s3cret").hexdigest() + "\n",
          "hash-key prints role:sha256hex of the key read from stdin")

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        ts = (hour - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = os.path.join(tmp, "events.ndjson")
        with open(path, "w") as f:
            for i in range(1000):
                if i == 4:
                    f.write('{"event_type": "completion", "generation_id": "%s", "success": true, '
                            '"duration_ms": -3}\n' % uuid.uuid4())
                elif i == 9:
                    f.write("{not json\n")
                else:
                    f.write(json.dumps({"event_type": "request", "generation_id": str(uuid.uuid4()),
                                        "event_id": str(uuid.uuid4()), "timestamp": ts}) + "\n")
                if i == 500:
                    f.write("\n")  # blank lines are skipped
        r = run("ingest", path, "--data-dir", data)
        check(r.returncode != 0 and "no store at " + os.path.join(data, "genalytics.db") in r.stderr
              and "--create" in r.stderr and not os.path.exists(data),
              f"ingest into a missing store fails and creates nothing: {r.stderr.strip()}")
        r = run("ingest", path, "--data-dir", "/nonexistent/dir")
        check(r.returncode != 0 and "no store at /nonexistent/dir/genalytics.db" in r.stderr,
              "ingest --data-dir /nonexistent/dir says there is no store")
        r = run("ingest", path, "--data-dir", data, "--create")
        check(r.returncode == 1, f"ingest with rejected lines exits 1: {r.stderr.strip().splitlines()[-1]}")
        check("998 accepted, 0 duplicates, 2 rejected" in r.stderr, "ingest summary counts")
        check("line 5: /duration_ms: must be a non-negative integer" in r.stderr,
              "a rejected line is reported by its line number and field")
        check("line 10: " in r.stderr and "malformed JSON" in r.stderr, "malformed lines reported")
        r = run("ingest", path, "--data-dir", data)
        check("0 accepted, 998 duplicates, 2 rejected" in r.stderr, "re-ingest only finds duplicates")

        r = run("demo", "--if-empty", "--days", "1", "--data-dir", data)
        check(r.returncode == 0 and "already holds events" in r.stderr, "demo --if-empty skips a loaded store")
        with Server(BINARY, data) as server:
            o = get(server.url + "/api/v1/analytics/generation/overview?days=1")
            check(o["total_requests"] == 998, f"ingested events are served ({o['total_requests']})")

        r = run("ingest", os.path.join(tmp, "missing.ndjson"), "--data-dir", data)
        check(r.returncode != 0, "ingest of a missing file fails")
        clean = os.path.join(tmp, "clean.ndjson")
        with open(clean, "w") as f:
            f.write(json.dumps({"event_type": "request", "generation_id": str(uuid.uuid4()),
                                "event_id": str(uuid.uuid4()), "timestamp": ts}) + "\n")
        r = run("ingest", clean, "--data-dir", data)
        check(r.returncode == 0 and "1 accepted, 0 duplicates, 0 rejected" in r.stderr,
              "ingest of clean lines into an existing store exits 0")

        typo = os.path.join(tmp, "typo")
        r = run("cache-analysis", "--data-dir", typo)
        check(r.returncode != 0 and "no store at " + os.path.join(typo, "genalytics.db") in r.stderr
              and not os.path.exists(typo), f"cache-analysis never creates a store: {r.stderr.strip()}")

        check_cache_analysis_json(data)
        check_demo_loads_routes(tmp)
        check_proxy_upstream(tmp)

        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"server": {"port": "eighty"}}')
        r = run("serve", "--config", bad, "--data-dir", data)
        check(r.returncode == 1 and "server.port must be an integer" in r.stderr,
              f"a bad config value is named: {r.stderr.strip()}")
        r = run("serve", "--config", os.path.join(tmp, "nope.json"))
        check(r.returncode == 1 and "cannot read config file" in r.stderr, "a missing config file is named")

        good = os.path.join(tmp, "good.json")
        with open(good, "w") as f:
            f.write('{"storage": {"data_dir": "%s"}}' % data)
        r = run("demo", "--if-empty", "--config", good)
        check("already holds events" in r.stderr, "the config file's data_dir is used")


def check_cache_analysis_json(data):
    """-f json prints seed 002's bare array of rows; the API keeps its object."""
    hour = datetime.now(timezone.utc) - timedelta(hours=1)
    hits = [{"route": f"/api/v1/content/{i % 7}", "method": "GET", "duration_ms": 300 + i % 50,
             "status_code": 200, "timestamp": hour.isoformat(), "event_id": str(uuid.uuid4())}
            for i in range(400)]
    with Server(BINARY, data) as server:
        status, answer = post(server.url + "/api/v1/events/route", "\n".join(json.dumps(h) for h in hits))
        check(status == 200 and answer["accepted"] == 400, "route hits ingested for cache-analysis")
        api = get(server.url + "/api/v1/analytics/routes/cache-priorities?n=5&days=1&min_requests=1&min_latency=1")
    r = run("cache-analysis", "-f", "json", "-n", "5", "-d", "1", "--min-requests", "1", "--min-latency", "1",
            "--data-dir", data)
    rows = json.loads(r.stdout)
    check(r.returncode == 0 and isinstance(rows, list) and rows == api["routes"] and rows
          and rows[0]["route"] == "/api/v1/content/{id}",
          "cache-analysis -f json prints the seed's bare array of rows, the API's routes")
    check(not re.search(r"[0-9][eE][+-]?[0-9]", r.stdout), f"numbers print without exponents: {r.stdout[:200]}")


def check_demo_loads_routes(tmp):
    """A newcomer's demo gives cache-analysis routes to rank at once."""
    demo = os.path.join(tmp, "demo")
    r = run("demo", "--days", "1", "--data-dir", demo)
    m = re.search(r"loaded (\d+) demo generation events, (\d+) route events and (\d+) model events", r.stderr)
    check(r.returncode == 0 and m and int(m.group(1)) > 0 and int(m.group(2)) > 0,
          f"demo loads generation and route events: {r.stderr.strip()}")
    r = run("cache-analysis", "-d", "1", "--data-dir", demo)
    check(r.returncode == 0 and "No routes found" not in r.stderr
          and re.search(r"^\|\s+1 \| GET ", r.stdout, re.M),
          "cache-analysis with default thresholds lists the demo's routes")
    r = run("demo", "--if-empty", "--days", "1", "--data-dir", demo)
    check(r.returncode == 0 and "already holds events" in r.stderr, "demo --if-empty still skips a loaded store")


def check_proxy_upstream(tmp):
    """--upstream takes http://host:port with or without a trailing slash and
    names what it does not support."""
    for upstream, reason in (("https://127.0.0.1:8443", "https is not supported"),
                             ("http://127.0.0.1:8000/app", "a path is not supported"),
                             ("http://user:pw@127.0.0.1:8000", "user info is not supported"),
                             ("http://127.0.0.1:8000/?x=1", "a query string is not supported"),
                             ("127.0.0.1:8000", "the scheme is missing"),
                             ("http://127.0.0.1:99999", "port")):
        r = run("proxy", "--upstream", upstream, "--listen", f"127.0.0.1:{free_port()}",
                "--data-dir", os.path.join(tmp, "proxy-data"))
        check(r.returncode != 0 and reason in r.stderr and "http://host:port" in r.stderr,
              f"--upstream {upstream}: {r.stderr.strip()}")
    for upstream in ("http://127.0.0.1:8000", "http://127.0.0.1:8000/", "http://localhost:8000/"):
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([BINARY, "proxy", "--upstream", upstream, "--listen", f"127.0.0.1:{free_port()}",
                                 "--data-dir", os.path.join(tmp, "proxy-data")], stdout=log, stderr=log)
        deadline = time.time() + 20
        started = False
        while time.time() < deadline and proc.poll() is None and not started:
            time.sleep(0.05)
            log.seek(0)
            started = b"recording route hits" in log.read()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.seek(0)
        check(started, f"proxy --upstream {upstream} starts: {log.read().decode(errors='replace').strip()}")


if __name__ == "__main__":
    main()
