#!/usr/bin/env bash
# test_deploy_files.sh: the files under deploy/ are what they claim to be.
#
# - Every cluster manifest (deploy/*.yaml, deploy/examples/*.yaml and the
#   one inside deploy/kubernetes/coordinator.yaml's ConfigMap) passes
#   `annotate-coordinator --check-manifest`, and a manifest with an unknown
#   key does not (so the check can fail).
# - deploy/kubernetes/: valid YAML with the expected kinds; the coordinator
#   is a StatefulSet of one with a volume claim mounted at its data dir and
#   gRPC liveness/readiness probes on 7400; the Service exposes 7400 and
#   7401; every worker Deployment runs one replica whose --name is a worker
#   of the ConfigMap's manifest and whose --coordinator is the Service;
#   kustomization.yaml lists files that exist (and renders, when kubectl
#   is installed).
# - deploy/systemd/: both units have [Unit], [Service] and [Install], start
#   the right binary with the right flags, and pass `systemd-analyze
#   verify` where it works (skipped, with the reason, where it does not).
# - deploy/Dockerfile builds on Debian 12 with deploy/install-deps.sh and
#   runs as the uid the Kubernetes files expect.
# Starts no process except annotate-coordinator --check-manifest.
. "$(dirname "$0")/lib.sh"

[ -x "$BIN/annotate-coordinator" ] || fail "$BIN/annotate-coordinator is not built"
D=$SRC/deploy

# ---- cluster manifests -------------------------------------------------------

check_manifest() {
    expect_rc 0 "$BIN/annotate-coordinator" --check-manifest "$1"
    expect_in "$T/out" "valid manifest" "check-manifest $1"
}

n=0
for f in "$D"/*.yaml "$D"/examples/*.yaml; do
    [ -e "$f" ] || continue
    check_manifest "$f"
    n=$((n + 1))
done
for f in one-host three-hosts edge; do
    [ -f "$D/examples/$f.yaml" ] || fail "deploy/examples/$f.yaml is missing"
done
say "$n cluster manifests are valid"

# The examples promise things about themselves; hold them to it.
expect_in "$D/examples/three-hosts.yaml" "grpc_listen: 0\.0\.0\.0:" "three-hosts listens on all interfaces"
expect_in "$D/examples/three-hosts.yaml" "cluster_bind: tcp://0\.0\.0\.0:" "three-hosts binds all interfaces"
expect_in "$D/examples/edge.yaml" "hash_bits: 1[0-4]\b" "edge uses a light model"

# The check can fail: an invented key is refused with file:line:column.
sed 's/^  hash_bits: 18 .*/  hash_bits: 18\n  placement: by_labels/' "$D/examples/one-host.yaml" >"$T/bad.yaml"
grep -q '^  placement: by_labels' "$T/bad.yaml" || fail "could not build the bad manifest"
expect_rc 2 "$BIN/annotate-coordinator" --check-manifest "$T/bad.yaml"
expect_in "$T/err" "bad\.yaml:[0-9]+:[0-9]+: .*placement" "an unknown key is named with its position"

# ---- Kubernetes ----------------------------------------------------------------

$PY - "$D/kubernetes" "$T/k8s-manifest.yaml" <<'PYEOF' >"$T/k8s.out" 2>&1 || { cat "$T/k8s.out" >&2; fail "deploy/kubernetes: see above"; }
import os, sys, yaml

kdir, manifest_out = sys.argv[1], sys.argv[2]
problems = []

def check(cond, what):
    if not cond:
        problems.append(what)

def load(name):
    with open(os.path.join(kdir, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]

def arg_after(args, flag):
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None

coord = load("coordinator.yaml")
workers = load("workers.yaml")
kust = load("kustomization.yaml")

# ConfigMap: its manifest is handed to --check-manifest by the shell.
cms = by_kind(coord, "ConfigMap")
check(len(cms) == 1, "coordinator.yaml: one ConfigMap")
text = cms[0]["data"]["manifest.yaml"] if cms else ""
with open(manifest_out, "w") as f:
    f.write(text)
manifest = yaml.safe_load(text) or {}
names = {w["name"] for w in manifest.get("workers", [])}
check(names, "the ConfigMap's manifest names workers")

# Service: gRPC and ZeroMQ ports.
svcs = by_kind(coord, "Service")
check(len(svcs) == 1, "coordinator.yaml: one Service")
svc = svcs[0] if svcs else {"metadata": {}, "spec": {}}
ports = {p["port"] for p in svc["spec"].get("ports", [])}
check({7400, 7401} <= ports, "Service exposes 7400 and 7401, has %s" % sorted(ports))

# StatefulSet: one replica, a claim mounted where the data dir is, probes.
sts = by_kind(coord, "StatefulSet")
check(len(sts) == 1, "coordinator.yaml: one StatefulSet")
if sts:
    s = sts[0]["spec"]
    check(s.get("replicas") == 1, "StatefulSet replicas is 1")
    check(s.get("serviceName") == svc["metadata"].get("name"), "StatefulSet serviceName is the Service")
    claims = [c["metadata"]["name"] for c in s.get("volumeClaimTemplates", [])]
    check(claims, "StatefulSet has a volumeClaimTemplate")
    c = s["template"]["spec"]["containers"][0]
    check(c["image"].startswith("annotate:"), "coordinator image is annotate:*")
    argv = c.get("command", []) + c.get("args", [])
    check(any(a.endswith("annotate-coordinator") for a in argv), "runs annotate-coordinator")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    data_dir = arg_after(argv, "--data-dir") or ""
    check(any(n in mounts and (data_dir + "/").startswith(mounts[n].rstrip("/") + "/") for n in claims),
          "--data-dir %r is on the claimed volume (mounts %s)" % (data_dir, mounts))
    mpath = arg_after(argv, "--manifest") or ""
    cm_vols = [v["name"] for v in s["template"]["spec"].get("volumes", []) if "configMap" in v]
    check(any(v in mounts and mpath.startswith(mounts[v]) for v in cm_vols), "--manifest is read from the ConfigMap")
    for probe in ("livenessProbe", "readinessProbe"):
        g = c.get(probe, {}).get("grpc", {})
        check(g.get("port") == 7400, "%s is a grpc probe on 7400" % probe)
    check(manifest.get("coordinator", {}).get("grpc_listen", "").startswith("0.0.0.0:7400"),
          "the manifest's grpc_listen is 0.0.0.0:7400")
    check(manifest.get("coordinator", {}).get("cluster_bind", "") == "tcp://0.0.0.0:7401",
          "the manifest's cluster_bind is tcp://0.0.0.0:7401")

# Workers: Deployments of one, each a named worker of the manifest.
deps = by_kind(workers, "Deployment")
check(deps, "workers.yaml: at least one Deployment")
seen = set()
for d in deps:
    name = d["metadata"]["name"]
    spec = d["spec"]
    check(spec.get("replicas") == 1, "%s: replicas is 1" % name)
    c = spec["template"]["spec"]["containers"][0]
    argv = c.get("command", []) + c.get("args", [])
    check(any(a.endswith("annotate-worker") for a in argv), "%s: runs annotate-worker" % name)
    wname = arg_after(argv, "--name")
    check(wname in names, "%s: --name %r is a worker of the manifest %s" % (name, wname, sorted(names)))
    check(wname not in seen, "%s: --name %r used twice" % (name, wname))
    seen.add(wname)
    ep = arg_after(argv, "--coordinator") or ""
    check(ep == "tcp://%s:7401" % svc["metadata"].get("name"), "%s: --coordinator %r is the Service" % (name, ep))
check(seen == names, "every manifest worker has a Deployment: %s vs %s" % (sorted(seen), sorted(names)))

# Kustomization: lists files that exist, the two above among them.
check(len(kust) == 1 and kust[0].get("kind") == "Kustomization", "kustomization.yaml is a Kustomization")
res = kust[0].get("resources", []) if kust else []
for r in res:
    check(os.path.exists(os.path.join(kdir, r)), "kustomization resource %s exists" % r)
check({"coordinator.yaml", "workers.yaml"} <= set(res), "kustomization lists coordinator.yaml and workers.yaml")

# Every other YAML file here parses too.
for f in sorted(os.listdir(kdir)):
    if f.endswith(".yaml"):
        for doc in load(f):
            check("kind" in doc and "apiVersion" in doc, "%s: a document without kind/apiVersion" % f)

if problems:
    print("\n".join("deploy/kubernetes: " + p for p in problems))
    sys.exit(1)
print("kinds ok")
PYEOF
check_manifest "$T/k8s-manifest.yaml"
if command -v kubectl >/dev/null 2>&1; then
    # Rendering needs no cluster; it catches what a plain YAML parse cannot.
    expect_rc 0 kubectl kustomize "$D/kubernetes"
    expect_in "$T/out" "kind: StatefulSet" "kubectl kustomize renders the StatefulSet"
    say "kubectl kustomize renders deploy/kubernetes"
else
    say "kubectl not installed: kustomize rendering not checked"
fi
say "deploy/kubernetes is consistent"

# ---- systemd ---------------------------------------------------------------

S=$D/systemd
unit_has() {  # FILE REGEX WHAT
    expect_in "$1" "$2" "$(basename "$1"): $3"
}
for u in "$S/annotate-coordinator.service" "$S/annotate-worker@.service"; do
    [ -f "$u" ] || fail "$u is missing"
    for sec in Unit Service Install; do
        unit_has "$u" "^\[$sec\]$" "section [$sec]"
    done
    unit_has "$u" "^User=annotate$" "a dedicated user"
    unit_has "$u" "^Restart=on-failure$" "Restart=on-failure"
    for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes; do
        unit_has "$u" "^$k$" "$k"
    done
done
C=$S/annotate-coordinator.service
unit_has "$C" "^ExecStart=/[^ ]*/annotate-coordinator .*--manifest " "ExecStart runs annotate-coordinator with a manifest"
unit_has "$C" "^ExecStart=.*--data-dir %S/annotate( |$)" "the data dir is the state directory"
unit_has "$C" "^StateDirectory=annotate$" "StateDirectory"
unit_has "$C" "^ReadWritePaths=/var/lib/annotate$" "ReadWritePaths of the data dir"
W=$S/annotate-worker@.service
unit_has "$W" '^ExecStart=/[^ ]*/annotate-worker .*--coordinator \$\{ANNOTATE_COORDINATOR\}' "ExecStart runs annotate-worker with the env file's coordinator"
unit_has "$W" "^ExecStart=.*--name %i( |$)" "the instance name is the worker name"
unit_has "$W" "^EnvironmentFile=/etc/annotate/worker.env$" "EnvironmentFile"
expect_in "$S/worker.env" "^ANNOTATE_COORDINATOR=tcp://[^ ]+:[0-9]+$" "worker.env sets ANNOTATE_COORDINATOR"

if command -v systemd-analyze >/dev/null 2>&1; then
    # Verify copies that point at this build's binaries. First a trivial
    # unit: where even that does not verify cleanly (no systemd in a
    # container), the check says nothing about ours and is skipped.
    mkdir -p "$T/units"
    printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' \
        >"$T/units/annotate-probe.service"
    if out=$(systemd-analyze verify "$T/units/annotate-probe.service" 2>&1) && [ -z "$out" ]; then
        # (a binary this build lacks is stood in for by /bin/true: the
        # content checks above already named it)
        for u in "$C" "$W"; do
            b=$(sed -n 's#^ExecStart=/[^ ]*/\(annotate-[a-z]*\) .*#\1#p' "$u")
            exe=$BIN/$b
            [ -x "$exe" ] || exe=/bin/true
            sed "s#^ExecStart=/[^ ]*/annotate-[a-z]* #ExecStart=$exe #" "$u" >"$T/units/$(basename "$u")"
            grep -q "^ExecStart=$exe " "$T/units/$(basename "$u")" || fail "could not rewrite ExecStart of $u"
        done
        # Any message (an unknown key is only a warning) is a failure.
        out=$(systemd-analyze verify "$T/units/annotate-coordinator.service" \
              "$T/units/annotate-worker@.service" 2>&1)
        rc=$?
        if [ $rc != 0 ] || [ -n "$out" ]; then echo "$out" >&2; fail "systemd-analyze verify: exit $rc"; fi
        say "systemd-analyze verify: both units clean"
    else
        say "systemd-analyze verify skipped: it does not verify a trivial unit here ($(echo "$out" | head -n 1))"
    fi
else
    say "systemd-analyze not installed: units checked by content only"
fi

# ---- Dockerfile and README -----------------------------------------------------

F=$D/Dockerfile
expect_in "$F" "^FROM debian:12( |$)" "Dockerfile builds on Debian 12"
expect_in "$F" "install-deps\.sh" "Dockerfile runs deploy/install-deps.sh"
expect_in "$F" "cmake --build" "Dockerfile builds with cmake"
for b in annotate-coordinator annotate-worker annotatectl; do
    expect_in "$F" "/usr/local/bin/$b" "Dockerfile installs $b"
done
uid=$(sed -n 's/.*--uid \([0-9]*\).*/\1/p' "$F")
[ -n "$uid" ] || fail "Dockerfile: no --uid for the annotate user"
expect_in "$D/kubernetes/coordinator.yaml" "runAsUser: $uid\b" "Kubernetes runs as the image's uid $uid"

R=$D/README.md
for h in examples systemd kubernetes Dockerfile; do
    expect_in "$R" "^#+ .*$h" "README has a section on $h"
done
say "deploy/ files are consistent"
