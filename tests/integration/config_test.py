"""The configuration as an operator meets it: a typo stops `serve` before it
serves, `genalytics config --check` names every error, `genalytics config`
says where each value came from, an installed binary finds its defaults, and
`genalytics worker` honours rollup.max_values_per_dimension_hour (real Redis
and PostgreSQL)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone

from harness import check, free_port
from services import Postgres, Redis

BINARY = sys.argv[1]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Nothing of the caller's environment chooses a file or sets a key.
ENV = {k: v for k, v in os.environ.items() if not k.startswith("GENALYTICS_")}


def run(*args, cwd, env=None, binary=BINARY):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**ENV, **(env or {})})


def write(tmp, name, config):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))
    return path


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def check_serve_refuses_a_typo(tmp):
    typo = write(tmp, "typo.json", {"server": {"prot": 8080}})
    port, data = free_port(), os.path.join(tmp, "serve-data")
    proc = subprocess.Popen([BINARY, "serve", "--config", typo, "--port", str(port), "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp, env=ENV)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("serve with an unknown key kept running")
    check(proc.returncode != 0 and f'{typo}: unknown key "server.prot" (did you mean "server.port"?)' in err,
          f"serve --config typo.json exits {proc.returncode} naming the key: {err.strip()}")
    check(not os.path.exists(data) and not listening(port) and "serving" not in out + err,
          "serve with a typo opened no store and served nothing")


def check_files(tmp):
    good = write(tmp, "good.json", {"server": {"threads": 3}, "route-analytics": {"template-ids": False}})
    r = run("config", "--check", good, cwd=tmp)
    check(r.returncode == 0 and r.stdout.strip() == f"{good}: ok (2 keys set)",
          f"config --check on a good file: {r.stdout.strip()}")

    typo = write(tmp, "typo.json", {"sever": {"port": 1}, "server": {"idle_timeout_s": 5, "thread": 2}})
    r = run("config", "--check", typo, cwd=tmp)
    check(r.returncode == 1 and f'{typo}: unknown key "sever" (did you mean "server"?)' in r.stderr
          and f'{typo}: unknown key "server.thread" (did you mean "server.threads"?)' in r.stderr
          and "2 errors" in r.stderr,
          f"config --check lists every unknown key with its nearest: {r.stderr.strip()}")

    wrong = write(tmp, "wrong.json", {"server": {"port": "eighty"}, "demo": {"days": 0}})
    r = run("config", "--check", wrong, cwd=tmp)
    check(r.returncode == 1
          and f'{wrong}: server.port must be an integer between 0 and 65535 (got "eighty")' in r.stderr
          and f"{wrong}: demo.days must be an integer between 1 and 3650 (got 0)" in r.stderr,
          f"config --check names the wrong type and the out-of-range value: {r.stderr.strip()}")

    old = write(tmp, "old.json", {"server": {"idle_timeout_seconds": 5}, "model-analytics": {"min_samples": 7}})
    r = run("config", "--check", old, cwd=tmp)
    check(r.returncode == 0 and '"server.idle_timeout_seconds" is deprecated, use "server.idle_timeout_s"'
          in r.stderr and '"model-analytics" is deprecated, use "model_analytics"' in r.stderr
          and "ok (2 keys set, 2 deprecated)" in r.stdout,
          f"config --check accepts old spellings with a warning naming the new: {r.stderr.strip()}")
    r = run("config", "--config", old, cwd=tmp)
    check(r.returncode == 0 and f"server.idle_timeout_s = 5  (file {old})" in r.stdout
          and "model_analytics.min_samples = 7" in r.stdout and "deprecated" in r.stderr,
          "genalytics config shows the value read under its old spelling, and the warning")


def check_sources(tmp):
    good = write(tmp, "sources.json", {"server": {"threads": 3, "port": 1234}})
    r = run("config", "--config", good, "--port", "9999", cwd=tmp,
            env={"GENALYTICS_DATA_DIR": "/from/env", "GENALYTICS_API_KEYS": "read:sup3rsecret",
                 "GENALYTICS_POSTGRES_URL": "postgresql://app:hunter2@db/genalytics"})
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and lines[0] == f"# file: {good}", f"config names its file: {r.stdout[:200]}")
    for line in ("server.port = 9999  (flag --port)", f"server.threads = 3  (file {good})",
                 'storage.data_dir = "/from/env"  (env GENALYTICS_DATA_DIR)',
                 "server.drain_timeout_s = 30  (default)",
                 "server.api_keys = 1 key (not shown)  (env GENALYTICS_API_KEYS)",
                 'production.postgres_url = "postgresql://app:***@db/genalytics"  (env GENALYTICS_POSTGRES_URL)'):
        check(line in lines, f"genalytics config: {line}")
    check("sup3rsecret" not in r.stdout + r.stderr and "hunter2" not in r.stdout + r.stderr,
          "genalytics config prints no secret")
    r = run("config", "--port", "99999", cwd=tmp)
    check(r.returncode == 1 and "--port: server.port must be an integer between 0 and 65535" in r.stderr,
          f"a flag's value is checked as a file's: {r.stderr.strip()}")


def check_defaults(tmp):
    r = run("config", "--defaults", cwd=tmp)
    with open(os.path.join(REPO, "config", "base.json")) as f:
        check(r.returncode == 0 and r.stdout == f.read(), "config --defaults is config/base.json")
    r = run("config", cwd=tmp)
    check(r.returncode == 0 and r.stdout.startswith("# file: none (built-in defaults)"),
          "without any file, genalytics config says it runs on built-in defaults")
    # An installed binary (PREFIX/bin) reads PREFIX/share/genalytics/base.json.
    prefix = os.path.join(tmp, "prefix")
    os.makedirs(os.path.join(prefix, "bin"))
    os.makedirs(os.path.join(prefix, "share", "genalytics"))
    installed = os.path.join(prefix, "bin", "genalytics")
    try:
        os.link(BINARY, installed)
    except OSError:
        shutil.copy(BINARY, installed)
    base = write(os.path.join(prefix, "share", "genalytics"), "base.json", {"server": {"threads": 5}})
    r = run("config", cwd=tmp, binary=installed)
    check(r.returncode == 0 and r.stdout.startswith(f"# file: {base}")
          and f"server.threads = 5  (file {base})" in r.stdout,
          f"an installed binary finds its defaults: {r.stdout.splitlines()[:1]}")
    r = run("config", cwd=tmp, binary=installed, env={"GENALYTICS_CONFIG": os.path.join(tmp, "good.json")})
    check(r.returncode == 0 and "server.threads = 3" in r.stdout, "GENALYTICS_CONFIG names the file")


def psql_int(pg, sql):
    try:
        return int(pg.psql(sql).strip() or 0)
    except RuntimeError:  # the worker has not migrated yet
        return -1


def check_worker_value_cap(tmp):
    """Five values of one attribute in one hour, cap 2: PostgreSQL keeps two
    rows of their own and one (other) row counting the other three."""
    pg, redis = Postgres(), Redis()
    worker = None
    try:
        config = write(tmp, "cap.json", {"rollup": {"max_values_per_dimension_hour": 2}})
        hour = (datetime.now(timezone.utc) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
        key = "genalytics:generation_events:stream"
        for i in range(5):
            redis.cli("XADD", key, "*", "event_id", str(uuid.uuid4()), "event_type", "request",
                      "generation_id", str(uuid.uuid4()),
                      "timestamp", (hour + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "attributes", json.dumps({"style": f"style-{i}"}))
        worker = subprocess.Popen([BINARY, "worker", "--config", config, "--redis", redis.url,
                                   "--postgres", pg.url], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, cwd=tmp, env=ENV)
        deadline = time.time() + 60
        while time.time() < deadline and psql_int(pg, "SELECT count(*) FROM generation_events") < 5:
            if worker.poll() is not None:
                raise AssertionError("the worker exited: " + worker.stderr.read())
            time.sleep(0.2)
        check(psql_int(pg, "SELECT count(*) FROM generation_events") == 5, "the worker stored the 5 events")
        rows = pg.psql("SELECT value, total_requests FROM generation_dimension_hourly "
                       f"WHERE dimension = 'attribute:style' AND timestamp = '{hour.isoformat()}' "
                       "ORDER BY value").split()
        counts = dict(row.split("|") for row in rows)
        check(len(counts) == 3 and counts.get("(other)") == "3"
              and sorted(v for k, v in counts.items() if k != "(other)") == ["1", "1"],
              f"worker honours rollup.max_values_per_dimension_hour = 2: {counts}")
        worker.send_signal(signal.SIGTERM)
        check(worker.wait(timeout=60) == 0, "the worker stops cleanly")
    finally:
        if worker and worker.poll() is None:
            worker.kill()
            worker.wait()
        redis.close()
        pg.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_serve_refuses_a_typo(tmp)
        check_files(tmp)
        check_sources(tmp)
        check_defaults(tmp)
        check_worker_value_cap(tmp)


if __name__ == "__main__":
    main()
