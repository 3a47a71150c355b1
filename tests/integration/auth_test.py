"""API keys end to end: `genalytics serve` with GENALYTICS_API_KEYS, a keys
file made with `genalytics hash-key`, and server.api_keys in a config file;
401 / 403 / 200 per role with either header, /health open, and the refusal
to listen on a non-loopback address without keys."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

from harness import Server, check, free_port

BINARY = sys.argv[1]
OVERVIEW = "/api/v1/analytics/generation/overview?days=1"
EVENTS = "/api/v1/events/generation"


def request(url, headers=None, body=None):
    """(status, headers, parsed JSON body) without raising on 4xx."""
    req = urllib.request.Request(url, data=body.encode() if body is not None else None,
                                 method="POST" if body is not None else "GET", headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read() or b"null")


def event():
    return json.dumps({"event_type": "request", "generation_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4())})


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def serve(data, env_keys=None, extra_args=()):
    """A Server whose process sees GENALYTICS_API_KEYS=env_keys (or none)."""
    os.environ.pop("GENALYTICS_API_KEYS", None)
    if env_keys is not None:
        os.environ["GENALYTICS_API_KEYS"] = env_keys
    return Server(BINARY, data, extra_args=extra_args)


def check_roles(url):
    status, headers, body = request(url + OVERVIEW)
    check(status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
          and body["error"]["code"] == "unauthorized", f"no key: 401 with WWW-Authenticate ({status})")
    status, _, body = request(url + OVERVIEW, bearer("guessed"))
    check(status == 401 and body["error"]["code"] == "unauthorized", "an unknown key: 401")
    status, _, body = request(url + OVERVIEW, bearer("ik"))
    check(status == 403 and body["error"]["code"] == "forbidden" and "read" in body["error"]["message"],
          f"an ingest key reading analytics: 403 ({body['error']['message']})")
    status, _, body = request(url + EVENTS, {"X-API-Key": "rk"}, event())
    check(status == 403 and body["error"]["code"] == "forbidden", "a read key posting events: 403")
    status, _, body = request(url + OVERVIEW, bearer("rk"))
    check(status == 200 and "total_requests" in body, "a read key reads analytics (Authorization: Bearer)")
    status, _, _ = request(url + OVERVIEW, {"X-API-Key": "rk"})
    check(status == 200, "a read key reads analytics (X-API-Key)")
    status, _, body = request(url + EVENTS, {"X-API-Key": "ik"}, event())
    check(status == 200 and body["accepted"] == 1, "an ingest key posts events")
    status, _, _ = request(url + EVENTS, bearer("ak"), event())
    check(status == 200, "an admin key posts events")
    status, _, _ = request(url + OVERVIEW, bearer("ak"))
    check(status == 200, "an admin key reads analytics")
    status, _, body = request(url + "/health")
    check(status == 200, "/health needs no key")


def wait_for_exit(proc, timeout=30):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
        return None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")

        with serve(data, "ingest:ik,read:rk,admin:ak") as server:
            check_roles(server.url)

        # A keys file holds hashes made by `genalytics hash-key`.
        keys_file = os.path.join(tmp, "keys")
        lines = ["# the team's keys"]
        for role, key in (("ingest", "ik"), ("read", "rk"), ("admin", "ak")):
            r = subprocess.run([BINARY, "hash-key", "--role", role], input=key + "\n", capture_output=True,
                               text=True, timeout=30)
            lines.append(r.stdout.strip())
        with open(keys_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        check("rk" not in open(keys_file).read().replace("read:", ""), "the keys file holds no key in clear")
        with serve(data, None, ["--api-keys-file", keys_file]) as server:
            check_roles(server.url)

        # server.api_keys in a config file.
        config = os.path.join(tmp, "config.json")
        with open(config, "w") as f:
            json.dump({"server": {"api_keys": [{"role": "ingest", "key": "ik"}, {"role": "read", "key": "rk"},
                                               {"role": "admin", "sha256": lines[3].split(":")[1]}]}}, f)
        with serve(data, None, ["--config", config]) as server:
            check_roles(server.url)

        os.environ["GENALYTICS_API_KEYS"] = "read:rk,writer:very-secret"
        r = subprocess.run([BINARY, "serve", "--port", str(free_port()), "--data-dir", data],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "API key 2" in r.stderr and "very-secret" not in r.stderr,
              f"a bad GENALYTICS_API_KEYS is refused without echoing the key: {r.stderr.strip()}")

        # Without keys, a non-loopback address is refused unless --insecure-no-auth.
        os.environ.pop("GENALYTICS_API_KEYS", None)
        port = free_port()
        proc = subprocess.Popen([BINARY, "serve", "--host", "0.0.0.0", "--port", str(port), "--data-dir", data],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        code = wait_for_exit(proc)
        stderr = proc.stderr.read()
        check(code == 1 and "refusing to listen on 0.0.0.0 without API keys" in stderr
              and "--insecure-no-auth" in stderr, f"0.0.0.0 without keys is refused: {stderr.strip()}")
        with serve(data, None, ["--host", "0.0.0.0", "--insecure-no-auth"]) as server:
            status, _, _ = request(server.url + OVERVIEW)
            check(status == 200, "--insecure-no-auth listens on 0.0.0.0 without keys")
            check(server.terminate() == 0, "and stops on SIGTERM")
        with serve(data, "read:rk", ["--host", "0.0.0.0"]) as server:
            status, _, _ = request(server.url + OVERVIEW)
            check(status == 401, "0.0.0.0 with keys listens and asks for a key")
        os.environ.pop("GENALYTICS_API_KEYS", None)


if __name__ == "__main__":
    main()
