#!/usr/bin/env python3
"""selftest.py --server PATH: proves that the deploy checks can fail.

Each case copies the files the checks read into a scratch checkout, breaks one thing on
purpose (an exact text replacement, which must match once: a case that no longer applies
fails here, rather than passing for nothing), runs lint.sh or check_deploy.py on the copy, and
expects it to exit 1 naming the check that should catch it. The untouched copy must pass.
"""

import argparse
import concurrent.futures
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FILES = ["Dockerfile", "README.md", "deploy/kubernetes", "scripts/install-deps.sh", "scripts/run.sh",
         "scripts/test.sh", "server/src/server.cpp"]
DEP = "deploy/kubernetes/deployment.yaml"
CM = "deploy/kubernetes/configmap.yaml"
SVC = "deploy/kubernetes/service.yaml"

# (what is broken, checker, file, old text, new text, the check expected to report it)
CASES = [
    ("readiness probe on a path the server lacks", "manifests", DEP, "path: /readyz", "path: /ready",
     "readinessProbe"),
    ("liveness probe on the echo port", "manifests", DEP,
     "path: /healthz\n              port: http", "path: /healthz\n              port: echo", "livenessProbe"),
    ("termination grace too short", "manifests", DEP, "terminationGracePeriodSeconds: 35",
     "terminationGracePeriodSeconds: 25", "termination-grace"),
    ("shutdown_grace raised past the termination grace", "manifests", CM, 'shutdown_grace = "20s"',
     'shutdown_grace = "30s"', "termination-grace"),
    ("preStop pause raised past the termination grace", "manifests", DEP, '["sleep", "5"]',
     '["sleep", "15"]', "termination-grace"),
    ("no preStop pause", "manifests", DEP, 'command: ["sleep", "5"]', 'command: ["true"]', "prestop"),
    ("server listens elsewhere than the container port", "manifests", CM, 'listen = "0.0.0.0:8080"',
     'listen = "0.0.0.0:9090"', "container-ports"),
    ("a key the server rejects", "manifests", CM, "    threads = 0\n", "    threads = 0\n    bogus = 1\n",
     "configmap-valid"),
    ("config mounted where SPINDLE_CONFIG does not point", "manifests", DEP,
     "mountPath: /etc/spindle", "mountPath: /etc/other", "configmap-valid"),
    ("EXPOSE without the echo port", "manifests", "Dockerfile", "EXPOSE 8080/tcp 7007/tcp",
     "EXPOSE 8080/tcp", "dockerfile-expose"),
    ("Service targets a port the container lacks", "manifests", SVC, "targetPort: echo",
     "targetPort: 7008", "service-ports"),
    ("Service selects other pods", "manifests", SVC, "  selector:\n    app.kubernetes.io/name: spindle-server",
     "  selector:\n    app.kubernetes.io/name: other", "service-selector"),
    ("writable root filesystem", "manifests", DEP, "readOnlyRootFilesystem: true",
     "readOnlyRootFilesystem: false", "security-context"),
    ("runAsUser other than the image's", "manifests", DEP, "runAsUser: 10001", "runAsUser: 20002",
     "security-context"),
    ("image runs as root", "manifests", "Dockerfile", "USER 10001:10001", "USER root", "security-context"),
    ("capabilities kept", "manifests", DEP, 'drop: ["ALL"]', 'drop: ["NET_RAW"]', "security-context"),
    ("more threads than the CPU limit", "manifests", CM, "    threads = 0\n", "    threads = 3\n", "resources"),
    ("no memory limit", "manifests", DEP, "              memory: 256Mi\n", "", "resources"),
    ("request deadline beyond the shutdown grace", "manifests", CM, 'request_timeout = "15s"',
     'request_timeout = "25s"', "request-timeout"),
    ("one replica", "manifests", DEP, "replicas: 3", "replicas: 1", "replicas-pdb"),
    ("PDB that blocks every drain", "manifests", "deploy/kubernetes/pdb.yaml", "maxUnavailable: 1",
     "maxUnavailable: 0", "replicas-pdb"),
    ("kustomization without the PDB", "manifests", "deploy/kubernetes/kustomization.yaml",
     "  - pdb.yaml\n", "", "kustomization"),
    ("HEALTHCHECK on another path", "manifests", "Dockerfile", "GET /healthz HTTP/1.1",
     "GET /health HTTP/1.1", "dockerfile-healthcheck"),
    ("HEALTHCHECK that accepts nothing", "manifests", "Dockerfile", "[[ $s == 200 ]]", "[[ $s == 201 ]]",
     "dockerfile-healthcheck"),
    ("STOPSIGNAL the server does not drain on", "manifests", "Dockerfile", "STOPSIGNAL SIGTERM",
     "STOPSIGNAL SIGKILL", "dockerfile-runtime"),
    ("shell-form ENTRYPOINT", "manifests", "Dockerfile", 'ENTRYPOINT ["/usr/local/bin/spindle-server"]',
     "ENTRYPOINT /usr/local/bin/spindle-server", "dockerfile-runtime"),
    ("no JSON log default", "manifests", "Dockerfile", "ENV SPINDLE_LOG_FORMAT=json",
     "ENV SPINDLE_LOG_FORMAT=text", "dockerfile-runtime"),
    ("build stage installs its own toolchain", "dockerfile-deps", "Dockerfile",
     "RUN scripts/install-deps.sh suite", "RUN apt-get update && apt-get install -y g++ cmake",
     "dockerfile-build-stage"),
    ("build stage with a profile lacking the toolchain", "dockerfile-deps", "Dockerfile",
     "RUN scripts/install-deps.sh suite", "RUN scripts/install-deps.sh runtime", "dockerfile-build-stage"),
    ("runtime stage installs around the script", "dockerfile-deps", "Dockerfile",
     "RUN /tmp/install-deps.sh runtime", "RUN apt-get install -y libspdlog1.10", "dockerfile-no-direct-install"),
    ("the README's command installs some other way", "dockerfile-deps", "scripts/run.sh",
     "scripts/install-deps.sh build", "apt-get install -y g++", "readme-same-script"),
    ("a YAML syntax error", "lint", DEP, "  replicas: 3\n", "  replicas: 3\n   bad: indent\n", None),
    ("trailing spaces", "lint", SVC, "type: ClusterIP\n", "type: ClusterIP   \n", None),
]


def run(checker, root, server):
    if checker == "lint":
        cmd = [str(HERE / "lint.sh"), str(root / "deploy/kubernetes")]
    else:
        cmd = [sys.executable, str(HERE / "check_deploy.py"), checker, "--root", str(root)]
        if checker == "manifests":
            cmd += ["--server", server]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    server = parser.parse_args().server
    bad = 0
    with tempfile.TemporaryDirectory(prefix="spindle-selftest-") as scratch:
        clean = Path(scratch) / "clean"
        for f in FILES:
            src, dst = ROOT / f, clean / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        for checker in ("lint", "manifests", "dockerfile-deps"):
            code, out = run(checker, clean, server)
            if code != 0:
                print(f"FAIL the unbroken copy does not pass {checker}:\n{out}")
                return 1

        def attempt(i):
            """Runs case I on its own copy; returns (caught, report)."""
            what, checker, file, old, new, check = CASES[i]
            root = Path(scratch) / f"case{i}"
            shutil.copytree(clean, root)
            text = (root / file).read_text()
            if text.count(old) != 1:
                return False, f"FAIL case '{what}': {old!r} occurs {text.count(old)} times in {file}; update it"
            (root / file).write_text(text.replace(old, new))
            code, out = run(checker, root, server)
            shutil.rmtree(root)
            caught = code == 1 and (check is None or f"FAIL {check}:" in out)
            report = f"{'ok  ' if caught else 'FAIL'} {what}: {checker} -> exit {code}" + (f", {check}" if check else "")
            return caught, report if caught else report + "\n  " + out.replace("\n", "\n  ")

        # The cases mostly wait for a server to start: a few at once, reported in order.
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            for caught, report in pool.map(attempt, range(len(CASES))):
                print(report)
                bad += not caught
    print(f"{len(CASES) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
