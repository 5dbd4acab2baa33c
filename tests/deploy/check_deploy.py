#!/usr/bin/env python3
"""Checks that the container image and the Kubernetes manifests agree with the server.

    check_deploy.py manifests --server PATH [--root DIR]
        The ConfigMap's TOML, with the Deployment's and the image's environment, is given to the
        real spindle-server (--print-config) and its effective config is compared with the
        manifests: container ports, Service ports, probe paths and ports (probed on a live
        server started with that config), the Dockerfile's EXPOSE and HEALTHCHECK (run against
        it), terminationGracePeriodSeconds against preStop + shutdown_grace + unwind time, the
        security context against the image's USER, and resources against threads.
    check_deploy.py dockerfile-deps [--root DIR]
        The Dockerfile installs packages only through scripts/install-deps.sh (one source of
        truth with the README's commands), its build stage with a profile that has the
        toolchain.

Every check runs; each failure is printed as "FAIL <check>: <why>"; the exit code is 1 if any
failed. --root (default: the checkout holding this file) lets selftest.py run it on a copy
that it broke on purpose.
"""

import argparse
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

try:
    import yaml
except ImportError:  # python3-yaml comes with yamllint: scripts/install-deps.sh test
    sys.exit("check_deploy.py: python3-yaml is missing (scripts/install-deps.sh test installs it)")

failures = []


def fail(check, why):
    failures.append(check)
    print(f"FAIL {check}: {why}")


def passed(check, what):
    print(f"ok   {check}: {what}")


# ---------------------------------------------------------------- Dockerfile


def dockerfile_stages(path):
    """[(from_line, name, [(INSTRUCTION, args)])] with continuations joined, comments dropped."""
    stages = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instr, _, args = logical.partition(" ")
        instr = instr.upper()
        args = args.strip()
        logical = ""
        if instr == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append((instr, args))
    return stages


def instructions(stage, name):
    return [args for instr, args in stage[2] if instr == name]


def exec_form(args):
    """The JSON array of an exec-form instruction, or None for the shell form."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def env_of(stage):
    env = {}
    for args in instructions(stage, "ENV"):
        if "=" in args.split()[0]:
            for item in shlex.split(args):
                k, _, v = item.partition("=")
                env[k] = v
        else:  # legacy "ENV KEY value"
            k, _, v = args.partition(" ")
            env[k] = v.strip()
    return env


def final_stage(root):
    stages = dockerfile_stages(root / "Dockerfile")
    if not stages:
        raise SystemExit("check_deploy.py: no FROM in the Dockerfile")
    return stages


# ---------------------------------------------------------------- the server's effective config


def print_config(server, args, env):
    """Runs spindle-server ARGS --print-config in ENV alone; returns ({key: value}, {key: source})."""
    proc = subprocess.run([server, *args, "--print-config"], env=env, capture_output=True, text=True,
                          timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"spindle-server --print-config exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()}")
    values, sources = {}, {}
    section = ""
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        m = re.match(r"\[(\w+)\]$", line)
        if m:
            section = m.group(1) + "."
            continue
        m = re.match(r'(\w+) = ("(?:[^"\\]|\\.)*"|\S+)  # (.*)$', line)
        if not m:
            raise RuntimeError(f"unexpected --print-config line: {line!r}")
        raw = m.group(2)
        values[section + m.group(1)] = json.loads(raw) if raw.startswith('"') else raw
        sources[section + m.group(1)] = m.group(3)
    return values, sources


def port_of(listen):
    return int(listen.rsplit(":", 1)[1])


def seconds(duration):
    """The server's duration text (250ms, 10s, 2m, 1h, 0) in seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", str(duration))
    if not m:
        raise ValueError(f"not a duration: {duration!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * scale


def unwind_seconds(root):
    """How long the server lets cancelled connections unwind after shutdown_grace."""
    text = (root / "server/src/server.cpp").read_text()
    m = re.search(r"unwind_time\s*=\s*std::chrono::(seconds|milliseconds)\((\d+)\)", text)
    if not m:
        raise RuntimeError("server/src/server.cpp: unwind_time not found; update check_deploy.py")
    return int(m.group(2)) * (1 if m.group(1) == "seconds" else 0.001)


def cpu_cores(quantity):
    q = str(quantity)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


# ---------------------------------------------------------------- manifests


def load_manifests(root):
    docs = {}
    kdir = root / "deploy/kubernetes"
    for path in sorted(kdir.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.setdefault(doc.get("kind"), []).append((path.name, doc))
    return docs


def one(docs, kind):
    found = docs.get(kind, [])
    if len(found) != 1:
        raise RuntimeError(f"expected one {kind} in deploy/kubernetes, found {len(found)}")
    return found[0][1]


def container_port(container, ref):
    """A probe's or a Service's port (a number or a port name) as a number, or None."""
    for p in container.get("ports", []):
        if ref == p.get("name") or ref == p.get("containerPort"):
            return p["containerPort"]
    return None


def pre_stop_seconds(container):
    pre = container.get("lifecycle", {}).get("preStop")
    if not pre:
        return None
    if "sleep" in pre:  # Kubernetes' own sleep action
        return float(pre["sleep"]["seconds"])
    cmd = pre.get("exec", {}).get("command", [])
    if len(cmd) == 2 and os.path.basename(cmd[0]) == "sleep":
        return seconds(cmd[1])
    return None


def run_server(server, args, env):
    """Starts the server on loopback ports from ARGS + ENV; returns (process, http_port)."""
    proc = subprocess.Popen([server, *args, "--http", "127.0.0.1:0", "--echo", "127.0.0.1:0",
                             "--log-format", "json"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        m = re.search(r"http listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise RuntimeError("spindle-server started with the manifests' config did not listen")


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_manifests(root, server):
    with tempfile.TemporaryDirectory(prefix="spindle-deploy-") as scratch:
        check_manifests_in(root, server, Path(scratch))


def check_manifests_in(root, server, scratch):
    docs = load_manifests(root)
    deployment = one(docs, "Deployment")
    service = one(docs, "Service")
    configmap = one(docs, "ConfigMap")
    pdb = one(docs, "PodDisruptionBudget")
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    containers = pod["containers"]
    if len(containers) != 1:
        raise RuntimeError(f"expected one container in the Deployment, found {len(containers)}")
    c = containers[0]
    stages = final_stage(root)
    image = stages[-1]

    # The server's view: the image's ENV, then the Deployment's env and args, with the
    # ConfigMap mounted where the pod mounts it.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(env_of(image))
    mounts = {}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        vol = volumes.get(m["name"], {})
        if "configMap" in vol and vol["configMap"]["name"] == configmap["metadata"]["name"]:
            mounts[m["mountPath"].rstrip("/")] = scratch
    for key, text in configmap.get("data", {}).items():
        (scratch / key).write_text(text)

    def local(path):
        for mount, there in mounts.items():
            if path.startswith(mount + "/"):
                return str(there / path[len(mount) + 1:])
        return path

    for e in c.get("env", []):
        env[e["name"]] = local(e["value"]) if e["name"] == "SPINDLE_CONFIG" else e["value"]
    args = [local(a) for a in c.get("args", [])]
    config_file = env.get("SPINDLE_CONFIG") or next(
        (args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"), None)
    try:
        values, sources = print_config(server, args, env)
    except RuntimeError as e:
        fail("configmap-valid", e)
        return
    if config_file and Path(config_file).is_file() and str(config_file).startswith(str(scratch)):
        from_file = [k for k, s in sources.items() if s.startswith("file")]
        passed("configmap-valid", f"spindle-server accepts the ConfigMap's TOML ({len(from_file)} keys "
                                  "from it)")
    else:
        fail("configmap-valid", "the container is not given the ConfigMap's TOML (SPINDLE_CONFIG or "
                                "--config pointing into its mount)")
    http_port = port_of(values["http.listen"])
    echo_port = port_of(values["echo.listen"])
    grace = seconds(values["shutdown_grace"])

    # Container ports and EXPOSE.
    named = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if named.get("http") == http_port and named.get("echo") == echo_port:
        passed("container-ports", f"http {http_port}, echo {echo_port} as the server listens")
    else:
        fail("container-ports", f"ports {named} do not match the server's http {http_port} / echo {echo_port}")
    exposed = set()
    for args_ in instructions(image, "EXPOSE"):
        exposed |= {int(p.split("/")[0]) for p in args_.split()}
    defaults, _ = print_config(server, [], {"PATH": env["PATH"], **env_of(image)})
    image_ports = {port_of(defaults["http.listen"]), port_of(defaults["echo.listen"])}
    if exposed == image_ports == {http_port, echo_port}:
        passed("dockerfile-expose", f"EXPOSE {sorted(exposed)} = the image's and the pod's ports")
    else:
        fail("dockerfile-expose", f"EXPOSE {sorted(exposed)}, image defaults {sorted(image_ports)}, "
                                  f"pod {sorted({http_port, echo_port})}")

    # Service: selector, and every port reaching a container port.
    if service["spec"].get("selector", {}).items() <= labels.items() and service["spec"].get("selector"):
        passed("service-selector", "selects the Deployment's pods")
    else:
        fail("service-selector", f"{service['spec'].get('selector')} does not select pods labelled {labels}")
    targets = {}
    for p in service["spec"].get("ports", []):
        targets[p.get("name")] = container_port(c, p.get("targetPort", p.get("port")))
    if targets.get("http") == http_port and targets.get("echo") == echo_port:
        passed("service-ports", f"http -> {http_port}, echo -> {echo_port}")
    else:
        fail("service-ports", f"Service ports reach {targets}, not http {http_port} / echo {echo_port}")

    # Probes: right paths on the HTTP port, and they answer 200 on a server run with this config.
    probes = {}
    for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = c.get(kind, {}).get("httpGet")
        if not get:
            fail(f"{kind}", "missing, or not an httpGet probe")
            continue
        port = container_port(c, get.get("port"))
        if get.get("path") != path or port != http_port:
            fail(f"{kind}", f"GET {get.get('path')} on port {get.get('port')} ({port}); "
                            f"want {path} on the HTTP port {http_port}")
            continue
        probes[kind] = path
    hc = instructions(image, "HEALTHCHECK")
    hc_cmd = exec_form(hc[0].split("CMD", 1)[1].strip()) if hc and "CMD" in hc[0] else None
    if not hc_cmd:
        fail("dockerfile-healthcheck", "no exec-form HEALTHCHECK CMD in the runtime stage")
    elif "/healthz" not in " ".join(hc_cmd):
        fail("dockerfile-healthcheck", "the HEALTHCHECK does not probe /healthz")
    try:
        proc, live_port = run_server(server, args, env)
    except RuntimeError as e:
        fail("probes-answer", e)
        return
    try:
        for kind, path in probes.items():
            status = http_get(live_port, path)
            if status == 200:
                passed(kind, f"GET {path} on port {http_port} answers 200")
            else:
                fail(kind, f"GET {path} answers {status}")
        if hc_cmd and "/healthz" in " ".join(hc_cmd):
            hc_env = {**env, "SPINDLE_HTTP": f"127.0.0.1:{live_port}"}
            r = subprocess.run(hc_cmd, env=hc_env, capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                passed("dockerfile-healthcheck", "its command succeeds against a live server")
            else:
                fail("dockerfile-healthcheck", f"its command exits {r.returncode} against a live server: "
                                               f"{r.stderr.strip()}")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    if code != 0:
        fail("probes-answer", f"the server exited {code} after SIGTERM")

    # Termination: the kubelet's SIGKILL must come after the whole graceful path.
    pre = pre_stop_seconds(c)
    unwind = unwind_seconds(root)
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    if pre is None or pre <= 0:
        fail("prestop", "no preStop pause (exec sleep N or sleep: {seconds: N})")
    else:
        passed("prestop", f"{pre:g} s pause before SIGTERM")
    need = (pre or 0) + grace + unwind
    if tgps > need:
        passed("termination-grace", f"terminationGracePeriodSeconds {tgps} > preStop {pre or 0:g} + "
                                    f"shutdown_grace {grace:g} + unwind {unwind:g} = {need:g}")
    else:
        fail("termination-grace", f"terminationGracePeriodSeconds {tgps} <= preStop {pre or 0:g} + "
                                  f"shutdown_grace {grace:g} + unwind {unwind:g} = {need:g}: SIGKILL would "
                                  "cut the drain short")
    request_timeout = seconds(values["http.request_timeout"])
    if request_timeout <= grace:
        passed("request-timeout", f"http.request_timeout {request_timeout:g} s <= shutdown_grace: a request "
                                  "in flight at SIGTERM ends before the grace does")
    else:
        fail("request-timeout", f"http.request_timeout {request_timeout:g} s > shutdown_grace {grace:g} s")

    # Security: non-root as the image's numeric USER, nothing writable or escalatable.
    sec = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
    users = instructions(image, "USER")
    image_uid = users[-1].split(":")[0] if users else None
    problems = []
    if sec.get("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if not (image_uid and image_uid.isdigit() and image_uid != "0"):
        problems.append(f"the image's USER {image_uid!r} is not a numeric non-root uid")
    elif str(sec.get("runAsUser", image_uid)) != image_uid:
        problems.append(f"runAsUser {sec.get('runAsUser')} is not the image's USER {image_uid}")
    if c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if "ALL" not in c.get("securityContext", {}).get("capabilities", {}).get("drop", []):
        problems.append("capabilities do not drop ALL")
    if problems:
        fail("security-context", "; ".join(problems))
    else:
        passed("security-context", f"non-root uid {image_uid}, read-only root, no capabilities")

    # Resources, and worker threads that fit the CPU limit.
    res = c.get("resources", {})
    missing = [f"{k}.{r}" for k in ("requests", "limits") for r in ("cpu", "memory") if r not in res.get(k, {})]
    if missing:
        fail("resources", f"missing {', '.join(missing)}")
    else:
        limit = cpu_cores(res["limits"]["cpu"])
        threads = int(values["threads"])
        if threads > math.ceil(limit):
            fail("resources", f"threads = {threads} with limits.cpu {res['limits']['cpu']}: more workers "
                              "than CPUs; 0 follows the limit")
        else:
            shown = "one worker per CPU of the limit" if threads == 0 else f"{threads} threads"
            passed("resources", f"requests and limits set; {shown} for limits.cpu {res['limits']['cpu']}")

    # Replicas, selectors and the disruption budget.
    replicas = deployment["spec"].get("replicas", 1)
    sel = deployment["spec"]["selector"].get("matchLabels", {})
    pdb_sel = pdb["spec"].get("selector", {}).get("matchLabels", {})
    problems = []
    if replicas < 3:
        problems.append(f"replicas {replicas} < 3")
    if not sel or not sel.items() <= labels.items():
        problems.append("the Deployment's selector does not match its pod labels")
    if not pdb_sel or not pdb_sel.items() <= labels.items():
        problems.append("the PodDisruptionBudget does not select the pods")
    if "maxUnavailable" in pdb["spec"]:
        if not 1 <= int(pdb["spec"]["maxUnavailable"]) < replicas:
            problems.append("PDB maxUnavailable must let one pod go and keep at least one")
    elif int(pdb["spec"].get("minAvailable", replicas)) >= replicas:
        problems.append("PDB minAvailable >= replicas blocks every node drain")
    if problems:
        fail("replicas-pdb", "; ".join(problems))
    else:
        passed("replicas-pdb", f"{replicas} replicas, the PDB lets one go at a time")

    # kustomization.yaml, if present, applies every manifest.
    kfile = root / "deploy/kubernetes/kustomization.yaml"
    if kfile.exists():
        listed = set(yaml.safe_load(kfile.read_text()).get("resources", []))
        files = {p.name for p in (root / "deploy/kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
        if listed == files:
            passed("kustomization", f"lists all {len(files)} manifests")
        else:
            fail("kustomization", f"resources {sorted(listed)} != manifests {sorted(files)}")

    # The image's own defaults for a container runtime.
    problems = []
    if [s.upper() for s in instructions(image, "STOPSIGNAL")] != ["SIGTERM"]:
        problems.append("STOPSIGNAL is not SIGTERM")
    entry = instructions(image, "ENTRYPOINT")
    if not entry or not exec_form(entry[-1]):
        problems.append("ENTRYPOINT is not exec form (a shell as PID 1 would not pass SIGTERM on)")
    if env_of(image).get("SPINDLE_LOG_FORMAT") != "json":
        problems.append("ENV SPINDLE_LOG_FORMAT=json is missing")
    if problems:
        fail("dockerfile-runtime", "; ".join(problems))
    else:
        passed("dockerfile-runtime", "STOPSIGNAL SIGTERM, exec-form ENTRYPOINT, JSON logs")


# ---------------------------------------------------------------- one source of truth


def install_profiles(root):
    """{profile: the package lists it installs}, read from install-deps.sh's case arms."""
    text = (root / "scripts/install-deps.sh").read_text()
    profiles = {}
    for m in re.finditer(r"^\s*([\w|]+)\)\s*want=\(([^)]*)\)", text, re.MULTILINE):
        lists = re.findall(r"\$\{(\w+)\[@\]\}", m.group(2))
        for name in m.group(1).split("|"):
            profiles[name] = lists
    return profiles


def check_dockerfile_deps(root):
    stages = final_stage(root)
    profiles = install_profiles(root)
    if "build_pkgs" not in profiles.get("build", []):
        fail("install-deps", "scripts/install-deps.sh has no build profile installing build_pkgs")
        return
    # The stage the runtime copies the binary from is the build stage.
    sources = {re.search(r"--from=(\S+)", a).group(1)
               for a in instructions(stages[-1], "COPY") if "--from=" in a}
    build = [s for s in stages[:-1] if s[1] in sources]
    if len(build) != 1:
        fail("dockerfile-build-stage", f"expected one build stage that the runtime copies from, found "
                                       f"{[s[1] for s in build]}")
        return
    build = build[0]
    used = []
    for args in instructions(build, "RUN"):
        for m in re.finditer(r"(?:^|[\s;&|/])install-deps\.sh\s+(\w+)", args):
            used.append(m.group(1))
    runs = " ".join(instructions(build, "RUN"))
    copies = " ".join(instructions(build, "COPY"))
    if not used or "scripts/install-deps.sh" not in runs + " " + copies:
        fail("dockerfile-build-stage", "the build stage does not run scripts/install-deps.sh")
    elif not all(p in profiles and "build_pkgs" in profiles[p] for p in used):
        fail("dockerfile-build-stage", f"install-deps.sh profile(s) {used} do not install the toolchain "
                                       "(build_pkgs)")
    else:
        passed("dockerfile-build-stage", f"the toolchain comes from scripts/install-deps.sh {' '.join(used)}")

    # Nothing in any stage installs packages around the script.
    direct = re.compile(r"\b(apt-get|apt|aptitude)\s+(?:-\S+\s+)*install\b|\bdpkg\s+(-i|--install)\b|"
                        r"\bpip3?\s+install\b")
    offenders = [a for s in stages for a in instructions(s, "RUN") if direct.search(a)]
    if offenders:
        fail("dockerfile-no-direct-install", f"RUN installs packages without install-deps.sh: {offenders[0]}")
    else:
        passed("dockerfile-no-direct-install", "every package install goes through install-deps.sh")
    for args in instructions(stages[-1], "RUN"):
        for m in re.finditer(r"install-deps\.sh\s+(\w+)", args):
            if m.group(1) not in profiles:
                fail("dockerfile-runtime-deps", f"runtime stage uses unknown profile {m.group(1)}")

    # The README's commands install through the same script.
    readme = (root / "README.md").read_text()
    callers = [s for s in ("scripts/run.sh", "scripts/test.sh")
               if s in readme and "scripts/install-deps.sh" not in (root / s).read_text()]
    if "install-deps.sh" not in readme or callers:
        fail("readme-same-script", f"the README's commands {callers or ''} do not all install through "
                                   "scripts/install-deps.sh")
    else:
        passed("readme-same-script", "README's run.sh and test.sh install through scripts/install-deps.sh too")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["manifests", "dockerfile-deps"])
    parser.add_argument("--server", help="the spindle-server binary (for manifests)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]))
    opts = parser.parse_args()
    root = Path(opts.root)
    try:
        if opts.what == "manifests":
            if not opts.server:
                parser.error("manifests needs --server")
            check_manifests(root, opts.server)
        else:
            check_dockerfile_deps(root)
    except (RuntimeError, KeyError, ValueError, yaml.YAMLError) as e:
        fail(opts.what, f"{type(e).__name__}: {e}")
    if failures:
        print(f"{len(failures)} check(s) failed: {', '.join(failures)}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
