"""The CLI as a user runs it: ingest with bad lines and re-ingest, demo
--if-empty, --help everywhere, clear errors for bad configuration."""
import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone

from harness import Server, check, get

BINARY = sys.argv[1]


def run(*args, **kwargs):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=300, **kwargs)


def main():
    for sub in ([], ["serve"], ["demo"], ["ingest"]):
        r = run(*sub, "--help")
        check(r.returncode == 0 and "--help" in r.stdout, f"genalytics {' '.join(sub)} --help")
    r = run("frobnicate")
    check(r.returncode != 0, "an unknown subcommand fails")

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
        check(r.returncode == 0, f"ingest succeeds: {r.stderr.strip().splitlines()[-1]}")
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


if __name__ == "__main__":
    main()
