#!/usr/bin/env python3
"""Static validation of asset-gate's deployment files (run by tests/e2e_deploy.rs).

  validate_manifests.py --root DIR --wasm MODULE --envoy ENVOY --kubectl KUBECTL
                        [--schemas DIR] [--k8s-version 1.33]

DIR is laid out like the repository (istio/, docker-compose.yaml, envoy/,
Dockerfile, docker/, tests/support/backends.py). Checks, in order:

1. Every YAML document under istio/ and docker-compose.yaml parses, and every
   Kubernetes-style document has a kind this script knows (a wrong apiVersion
   is an error even without schemas).
2. Each kustomization (istio/, istio/wasmplugin/) renders with the real
   `kubectl kustomize` (kustomize v5), in a scratch copy holding MODULE as
   istio/base/asset_gate.wasm, the way a user runs it.
3. EnvoyFilter and WasmPlugin documents (raw files and rendered output)
   validate against the strict Istio JSON Schemas in --schemas (skipped with a
   visible line when that directory is missing).
4. ConfigMap, Service and Deployment documents validate offline and strictly
   against Kubernetes --k8s-version with the kubernetes-validate package.
5. Consistency of each rendered set: the ConfigMap holds MODULE and fits in
   1 MiB; the sidecar.istio.io/userVolume(-Mount) annotations are JSON
   objects keyed by volume name, name that ConfigMap, have no subPath; every
   module path in an EnvoyFilter or WasmPlugin is that mount plus the
   ConfigMap key; selectors select a Deployment that mounts it; every
   asset-gate placement in an EnvoyFilter uses vm_id asset_gate; clusters the
   module polls exist. Files in a directory without a kustomization
   (istio/gateway/) are applied by hand: a Deployment patch there is applied
   to a stand-in of Istio's gateway Deployment, validated, and must mount the
   module where that directory's EnvoyFilters load it.
6. The Envoy configuration in each EnvoyFilter is applied, with Istio's patch
   semantics, to a stand-in of what Istio generates (listener + HTTP
   connection manager, route configuration, clusters, Istio's names), and
   each WasmPlugin is turned into the filter Istio would build; then
   `envoy --mode validate` checks it with MODULE, whose on_configure also
   checks each asset-gate JSON configuration.
7. docker-compose.yaml validates against the Compose Specification schema
   (--schemas) and is consistent: mounted files and build inputs exist, the
   Envoy config it mounts is under envoy/ and is the one Envoy is started
   with, clusters use Compose service names and the ports the services listen
   on, published ports are Envoy's, images are pinned.

Prints one line per check and `validation: N passed, M failed`; exits 1 on
any failure.
"""
import argparse
import base64
import concurrent.futures
import copy
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import kubernetes_validate
import yaml

ISTIO_SCHEMAS = {
    ("networking.istio.io/v1alpha3", "EnvoyFilter"): "istio-envoyfilter-v1alpha3.strict.json",
    ("extensions.istio.io/v1alpha1", "WasmPlugin"): "istio-wasmplugin-v1alpha1.strict.json",
}
CORE_KINDS = {("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"), ("v1", "Secret")}
KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
KUSTOMIZE_DIRS = ["istio", "istio/wasmplugin"]
MODULE_KEY = "asset_gate.wasm"
VM_ID = "asset_gate"
CONFIGMAP_LIMIT = 1024 * 1024
WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
ANNOTATION_VOLUME = "sidecar.istio.io/userVolume"
ANNOTATION_MOUNT = "sidecar.istio.io/userVolumeMount"
# Protobuf map fields: a MERGE replaces their entries instead of merging them.
PROTO_MAP_FIELDS = {"typed_extension_protocol_options", "typed_per_filter_config", "filter_metadata"}


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, what):
        self.passed += 1
        print("ok: " + what, flush=True)

    def fail(self, what, why):
        self.failed.append(what)
        print("FAILED: %s\n    %s" % (what, str(why).replace("\n", "\n    ")), flush=True)

    def check(self, what, cond, why):
        if cond:
            self.ok(what)
        else:
            self.fail(what, why)
        return cond


def rel(root, path):
    return os.path.relpath(path, root)


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def kind_of(doc):
    return (doc.get("apiVersion"), doc.get("kind")) if isinstance(doc, dict) else (None, None)


def doc_name(doc):
    return "%s/%s" % (doc.get("kind"), (doc.get("metadata") or {}).get("name"))


def walk(value, path=()):
    """Yields (path, dict) for every dict inside value."""
    if isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, path + (i,))


# ---------------------------------------------------------------- 1. parsing

def parse_all(root, report):
    """Every YAML file under istio/ plus docker-compose.yaml -> {path: docs}."""
    files = {}
    for base, _, names in os.walk(os.path.join(root, "istio")):
        for n in sorted(names):
            if n.endswith((".yaml", ".yml")):
                files[os.path.join(base, n)] = None
    compose = os.path.join(root, "docker-compose.yaml")
    files[compose] = None
    parsed = {}
    for path in sorted(files):
        try:
            docs = load_docs(path)
        except (OSError, yaml.YAMLError) as e:
            report.fail("YAML parses: " + rel(root, path), e)
            continue
        bad = [i for i, d in enumerate(docs) if not isinstance(d, dict)]
        if report.check("YAML parses: %s (%d documents)" % (rel(root, path), len(docs)),
                        not bad, "documents %s are not mappings" % bad):
            parsed[path] = docs
    for path, docs in parsed.items():
        if path == compose:
            continue
        for d in docs:
            k = kind_of(d)
            known = k in ISTIO_SCHEMAS or k in CORE_KINDS or k == KUSTOMIZATION
            if not known:
                report.fail("known kind: %s in %s" % (doc_name(d), rel(root, path)),
                            "apiVersion %r kind %r is none of %s" % (
                                k[0], k[1], sorted(set(ISTIO_SCHEMAS) | CORE_KINDS | {KUSTOMIZATION})))
    return parsed


# -------------------------------------------------------------- 2. rendering

def render(root, kubectl, wasm, report):
    """kubectl kustomize each kustomization in a scratch copy -> {dir: docs}."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = os.path.join(tmp, "istio")
        shutil.copytree(os.path.join(root, "istio"), scratch, symlinks=True)
        target = os.path.join(scratch, "base", MODULE_KEY)
        if os.path.lexists(target):
            os.remove(target)
        shutil.copyfile(wasm, target)
        for d in KUSTOMIZE_DIRS:
            src = os.path.join(tmp, d)
            r = subprocess.run([kubectl, "kustomize", src], capture_output=True, text=True)
            if report.check("kubectl kustomize %s/" % d, r.returncode == 0, r.stderr.strip()):
                out[d] = [x for x in yaml.safe_load_all(r.stdout) if x is not None]
    return out


# ---------------------------------------------------------------- 3. schemas

def validator_for(schemas, filename, cache={}):
    if filename not in cache:
        with open(os.path.join(schemas, filename)) as f:
            schema = json.load(f)
        # Draft 7 explicitly: jsonschema does not recognise compose-spec.json's "$schema".
        cache[filename] = jsonschema.Draft7Validator(
            schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return cache[filename]


def schema_errors(validator, doc):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return ["$.%s: %s" % (".".join(str(p) for p in e.absolute_path), e.message) for e in errors]


def check_istio_schemas(schemas, sources, report):
    for where, docs in sources:
        for d in docs:
            k = kind_of(d)
            if k in ISTIO_SCHEMAS:
                errs = schema_errors(validator_for(schemas, ISTIO_SCHEMAS[k]), d)
                report.check("%s schema (%s): %s" % (k[1], ISTIO_SCHEMAS[k], where + " " + doc_name(d)),
                             not errs, "\n".join(errs[:10]))


# ------------------------------------------------------------ 4. Kubernetes

def check_core(version, sources, report):
    for where, docs in sources:
        for d in docs:
            if kind_of(d) not in CORE_KINDS:
                continue
            what = "Kubernetes %s strict schema: %s %s" % (version, where, doc_name(d))
            try:
                kubernetes_validate.validate(d, version, strict=True)
                report.ok(what)
            except kubernetes_validate.ValidationError as e:
                report.fail(what, "%s: %s" % (".".join(str(p) for p in e.path), e.message))
            except Exception as e:  # schema not found, unsupported version
                report.fail(what, getattr(e, "message", e))


# ----------------------------------------------------------- 5. consistency

def selected(selector_labels, deployments):
    out = []
    for dep in deployments:
        labels = ((dep["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in selector_labels.items()):
            out.append(dep)
    return out


def mounted_module_paths(dep, configmaps, report, where):
    """Module paths a Deployment's sidecar sees through the userVolume annotations."""
    ann = ((dep["spec"]["template"].get("metadata") or {}).get("annotations")) or {}
    name = "%s %s" % (where, doc_name(dep))
    if ANNOTATION_VOLUME not in ann and ANNOTATION_MOUNT not in ann:
        return set()
    try:
        volumes = json.loads(ann.get(ANNOTATION_VOLUME, ""))
        mounts = json.loads(ann.get(ANNOTATION_MOUNT, ""))
    except ValueError as e:
        report.fail("userVolume annotations are JSON: " + name, e)
        return set()
    # Istio's injection template ranges over these as objects keyed by volume name.
    if not report.check("userVolume annotations are JSON objects keyed by volume name: " + name,
                        isinstance(volumes, dict) and isinstance(mounts, dict)
                        and all(isinstance(v, dict) and "name" not in v
                                for v in list(volumes.values()) + list(mounts.values())),
                        "expected {\"<volume>\": {...}} for both, got %r and %r" % (volumes, mounts)):
        return set()
    paths = set()
    for vol, mount in mounts.items():
        source = volumes.get(vol)
        if not report.check("userVolumeMount %s names a userVolume: %s" % (vol, name),
                            source is not None, "volumes: %s" % sorted(volumes)):
            continue
        report.check("userVolumeMount %s has no subPath (ConfigMap updates must arrive): %s" % (vol, name),
                     "subPath" not in mount and "subPathExpr" not in mount, mount)
        cm = (source.get("configMap") or {}).get("name")
        if cm is None:
            continue
        data = configmaps.get(cm)
        if not report.check("userVolume %s names a ConfigMap of the same kustomization (%s): %s" % (vol, cm, name),
                            data is not None, "ConfigMaps: %s" % sorted(configmaps)):
            continue
        for key in data:
            paths.add(mount.get("mountPath", "").rstrip("/") + "/" + key)
    return paths


def asset_gate_filters(value):
    """(path, wasm-filter typed_config) for every asset-gate Wasm filter in value."""
    for path, d in walk(value):
        if d.get("@type") == WASM_FILTER_TYPE:
            yield path, d


def module_path(filter_config):
    return (((filter_config.get("config") or {}).get("vm_config") or {}).get("code") or {}).get(
        "local", {}).get("filename")


def filter_json(filter_config):
    cfg = ((filter_config.get("config") or {}).get("configuration") or {})
    return json.loads(cfg.get("value") or "{}")


def check_consistency(where, docs, wasm_bytes, report):
    configmaps, deployments, services = {}, [], []
    for d in docs:
        k = kind_of(d)
        if k == ("v1", "ConfigMap"):
            data = {}
            for key, v in (d.get("binaryData") or {}).items():
                data[key] = base64.b64decode(v)
            for key, v in (d.get("data") or {}).items():
                data[key] = v.encode()
            configmaps[d["metadata"]["name"]] = data
            size = sum(len(v) for v in (d.get("binaryData") or {}).values()) + \
                sum(len(v) for v in (d.get("data") or {}).values())
            report.check("ConfigMap %s fits in 1 MiB (%d bytes): %s" % (d["metadata"]["name"], size, where),
                         size < CONFIGMAP_LIMIT, "a ConfigMap holds at most 1 MiB")
        elif k == ("apps/v1", "Deployment"):
            deployments.append(d)
        elif k == ("v1", "Service"):
            services.append(d)
    module_cms = [n for n, data in configmaps.items() if data.get(MODULE_KEY) == wasm_bytes]
    report.check("a ConfigMap carries the built module as %s: %s" % (MODULE_KEY, where),
                 bool(module_cms), "ConfigMaps: %s" % sorted(configmaps))
    mounts = {id(dep): mounted_module_paths(dep, configmaps, report, where) for dep in deployments}

    def check_selector(name, labels, paths_used):
        chosen = selected(labels or {}, deployments)
        if not report.check("%s selects a Deployment of the kustomization: %s" % (name, where), bool(chosen),
                            "selector %s matches none of %s" % (labels, [doc_name(x) for x in deployments])):
            return
        for dep in chosen:
            missing = sorted(p for p in paths_used if p not in mounts[id(dep)])
            report.check("%s loads the module from the sidecar's ConfigMap mount (%s): %s" % (
                name, ", ".join(sorted(paths_used)) or "no path", doc_name(dep)),
                paths_used and not missing,
                "%s not among the mounted files %s" % (missing or "no module path", sorted(mounts[id(dep)])))

    for d in docs:
        k = kind_of(d)
        if k == ("networking.istio.io/v1alpha3", "EnvoyFilter"):
            name = doc_name(d)
            paths, vm_ids = set(), set()
            for _, f in asset_gate_filters(d.get("spec", {}).get("configPatches", [])):
                paths.add(module_path(f))
                vm_ids.add(((f.get("config") or {}).get("vm_config") or {}).get("vm_id"))
            report.check("%s: every asset-gate placement uses vm_id %s" % (name, VM_ID),
                         vm_ids == {VM_ID}, "vm_ids: %s" % vm_ids)
            selector = (d["spec"].get("workloadSelector") or {}).get("labels")
            check_selector(name, selector, {p for p in paths if p})
        elif k == ("extensions.istio.io/v1alpha1", "WasmPlugin"):
            name = doc_name(d)
            url = d["spec"].get("url", "")
            paths = {url[len("file://"):]} if url.startswith("file://") else set()
            check_selector(name, (d["spec"].get("selector") or {}).get("matchLabels"), paths)
            check_gateway_scope(name, d, report)
            cluster = (d["spec"].get("pluginConfig") or {}).get("header_providing_service_cluster")
            if cluster:
                report.check("%s: the header provider %s is a mesh Service of the kustomization" % (name, cluster),
                             mesh_service_port(cluster, services) is not None,
                             "a WasmPlugin cannot add clusters: use outbound|<port>||<service>.<ns>.svc.cluster.local "
                             "of a Service here; Services: %s" % [doc_name(s) for s in services])
    return services


def check_gateway_scope(name, plugin, report):
    """A WasmPlugin with the gateway role (flow D) must name its listener
    port: without `match`, it gates every listener of the proxy and sends
    every app's cookies and tokens to the auth backend."""
    if (plugin["spec"].get("pluginConfig") or {}).get("role") != "gateway":
        return
    ports = [p.get("number") for m in plugin["spec"].get("match") or [] for p in m.get("ports") or []]
    report.check("%s: the gateway role runs on its own listener port only" % name,
                 bool(ports) and all(ports),
                 "a flow D WasmPlugin without match.ports gates every listener of the proxy "
                 "and forwards every app's credentials to the auth backend")


def mesh_service_port(cluster, services):
    """outbound|port|subset|host of one of the services -> port, else None."""
    parts = cluster.split("|")
    if len(parts) != 4 or parts[0] != "outbound" or not parts[1].isdigit():
        return None
    host = parts[3].split(".")
    for s in services:
        ns = s["metadata"].get("namespace", "default")
        if host[:2] == [s["metadata"]["name"], ns] and ".".join(host[2:]) in ("svc.cluster.local", "svc", ""):
            if any(p.get("port") == int(parts[1]) for p in s["spec"].get("ports", [])):
                return int(parts[1])
    return None


# ------------------------------------------- 6. EnvoyFilter -> Envoy bootstrap

def istio_merge(dst, src):
    """Istio's EnvoyFilter MERGE (pkg/proto/merge) on JSON-shaped config:
    messages merge field by field, lists append, map entries and Any values
    (objects with "@type") are replaced."""
    for k, v in src.items():
        if isinstance(v, dict) and "@type" in v:
            dst[k] = copy.deepcopy(v)
        elif k in PROTO_MAP_FIELDS and isinstance(v, dict):
            dst.setdefault(k, {})
            for mk, mv in v.items():
                dst[k][mk] = copy.deepcopy(mv)
        elif isinstance(v, dict) and isinstance(dst.get(k), dict):
            istio_merge(dst[k], v)
        elif isinstance(v, list) and isinstance(dst.get(k), list):
            dst[k].extend(copy.deepcopy(v))
        else:
            dst[k] = copy.deepcopy(v)


def stand_in_cluster(name, port):
    return {"name": name, "type": "STATIC", "connect_timeout": "10s",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]}}


class StandIn:
    """What Istio generates for one proxy, as far as patches reach it."""

    def __init__(self, route_names=(), route_cluster=None):
        self.listeners = {}   # (context, port) -> {"listener", "hcm"}
        self.clusters = {}    # name -> cluster
        # Outside the sidecar's inbound chain, routes come from VirtualServices:
        # the stand-in has the ones the patches name, to the cluster they merge.
        self.route_names = list(route_names)
        self.route_cluster = route_cluster

    def route_config_name(self, ctx, port):
        return {"SIDECAR_INBOUND": "inbound|%d||" % port, "SIDECAR_OUTBOUND": str(port),
                "GATEWAY": "http.%d" % port}[ctx]

    def default_cluster(self, ctx, port):
        if ctx == "SIDECAR_INBOUND":
            return "inbound|%d||" % port
        return "outbound|%d||stand-in.default.svc.cluster.local" % port

    def chain(self, ctx, port):
        if ctx not in ("SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY"):
            raise ValueError("the validator has no stand-in for context %r: give each patch a context "
                             "(SIDECAR_INBOUND, SIDECAR_OUTBOUND or GATEWAY)" % ctx)
        key = (ctx, port)
        if key in self.listeners:
            return self.listeners[key]
        cluster = self.default_cluster(ctx, port)
        names = ["default"]
        if ctx != "SIDECAR_INBOUND" and self.route_names:
            names = self.route_names
            cluster = self.route_cluster or cluster
        self.clusters.setdefault(cluster, stand_in_cluster(cluster, int(cluster.split("|")[1])))
        vhost = "inbound|http|%d" % port if ctx == "SIDECAR_INBOUND" else "stand-in.default.svc.cluster.local:%d" % port
        hcm = {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "%s_%d" % (ctx.lower(), port),
            "normalize_path": True,
            "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
            "route_config": {
                "name": self.route_config_name(ctx, port),
                "virtual_hosts": [{"name": vhost, "domains": ["*"], "routes": [{
                    "name": n, "match": {"prefix": "/"},
                    "route": {"cluster": cluster, "timeout": "0s"}} for n in names]}]},
            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
        }
        chain = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
        if ctx == "SIDECAR_INBOUND":
            chain["filter_chain_match"] = {"destination_port": port}
            name, listen = "virtualInbound_%d" % port, 15006
        else:
            name, listen = "0.0.0.0_%d" % port, port
        listener = {"name": name, "address": {"socket_address": {"address": "0.0.0.0", "port_value": listen}},
                    "filter_chains": [chain]}
        self.listeners[key] = {"listener": listener, "hcm": hcm}
        return self.listeners[key]

    def bootstrap(self):
        listeners = []
        for (ctx, _), entry in sorted(self.listeners.items()):
            listeners.append(entry["listener"])
        # One listener per address in Envoy: inbound chains share the virtual
        # inbound listener in Istio; here each gets its own stand-in port.
        for i, l in enumerate(listeners):
            l["address"]["socket_address"]["port_value"] = 20000 + i
        return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
                "static_resources": {"listeners": listeners, "clusters": list(self.clusters.values())}}


def route_config_chains(s, ctx, rc_match, where):
    """The stand-in chains whose route configuration a patch reaches."""
    if not rc_match.get("portNumber") and not rc_match.get("name"):
        chains = [c for (x, _), c in sorted(s.listeners.items()) if x == ctx]
        if not chains:
            raise ValueError(where + ": matches every route configuration of %s, but no HTTP_FILTER patch "
                             "gives the validator a listener port for it" % ctx)
        return chains
    return [s.chain(ctx, route_config_port(ctx, rc_match))]


def route_config_port(ctx, rc_match):
    if rc_match.get("portNumber"):
        return int(rc_match["portNumber"])
    name = rc_match.get("name", "")
    m = re.fullmatch(r"inbound\|(\d+)\|[^|]*\|.*|(\d+)|http\.(\d+)(\..*)?", name)
    if not m:
        raise ValueError("the validator cannot tell the port of route configuration %r: "
                         "match it by portNumber or by an Istio route configuration name" % name)
    return int(next(g for g in m.groups() if g and g.isdigit()))


def apply_route_patch(rc, apply_to, op, rcm, value, where):
    if rcm.get("name") and rcm["name"] != rc["name"]:
        raise ValueError(where + ": route configuration %r is not Istio's %r" % (rcm["name"], rc["name"]))
    vm = rcm.get("vhost") or {}
    vhosts = [v for v in rc["virtual_hosts"] if not vm.get("name") or v["name"] == vm["name"]]
    if apply_to != "ROUTE_CONFIGURATION" and not vhosts and op != "ADD":
        raise ValueError(where + ": no virtual host %r (Istio's is %r)" % (
            vm.get("name"), [v["name"] for v in rc["virtual_hosts"]]))
    if apply_to == "ROUTE_CONFIGURATION":
        if op != "MERGE":
            raise ValueError(where + ": Istio only MERGEs route configurations")
        istio_merge(rc, value)
    elif apply_to == "VIRTUAL_HOST":
        if op == "ADD":
            rc["virtual_hosts"].append(copy.deepcopy(value))
        elif op == "MERGE":
            for v in vhosts:
                istio_merge(v, value)
        else:
            raise ValueError(where + ": unsupported operation")
    else:
        rname = (vm.get("route") or {}).get("name")
        for v in vhosts:
            routes = v["routes"]
            idx = [j for j, r in enumerate(routes) if not rname or r.get("name") == rname]
            if not idx and op != "ADD":
                raise ValueError(where + ": no route %r in virtual host %r" % (rname, v["name"]))
            if op == "MERGE":
                for j in idx:
                    istio_merge(routes[j], value)
            elif op == "INSERT_FIRST":
                routes.insert(0, copy.deepcopy(value))
            elif op == "INSERT_BEFORE":
                routes.insert(idx[0], copy.deepcopy(value))
            elif op == "INSERT_AFTER":
                routes.insert(idx[0] + 1, copy.deepcopy(value))
            elif op == "ADD":
                routes.append(copy.deepcopy(value))
            elif op == "REMOVE":
                v["routes"] = [r for j, r in enumerate(routes) if j not in idx]
            else:
                raise ValueError(where + ": unsupported operation")


def apply_envoyfilter(ef):
    """The EnvoyFilter's patches applied to a stand-in -> Envoy bootstrap."""
    patches = list(enumerate(ef["spec"].get("configPatches", [])))
    route_names = []
    merged_outbound = []
    for _, p in patches:
        match = p.get("match") or {}
        name = ((((match.get("routeConfiguration") or {}).get("vhost") or {}).get("route")) or {}).get("name")
        if p.get("applyTo") == "HTTP_ROUTE" and name and name not in route_names:
            route_names.append(name)
        cname = (match.get("cluster") or {}).get("name", "")
        if p.get("applyTo") == "CLUSTER" and cname.startswith("outbound|"):
            merged_outbound.append(cname)
    s = StandIn(route_names, merged_outbound[0] if len(merged_outbound) == 1 else None)
    # Listeners first: patches of route configurations may need their ports.
    patches.sort(key=lambda ip: ip[1].get("applyTo") != "HTTP_FILTER")
    for i, p in patches:
        apply_to, match, patch = p.get("applyTo"), p.get("match") or {}, p.get("patch") or {}
        ctx, op, value = match.get("context", "ANY"), patch.get("operation"), patch.get("value")
        where = "configPatches[%d] (%s %s)" % (i, apply_to, op)
        if apply_to == "HTTP_FILTER":
            lm = match.get("listener") or {}
            if not lm.get("portNumber"):
                raise ValueError(where + ": the validator needs listener.portNumber")
            chain = s.chain(ctx, int(lm["portNumber"]))
            sub = (((lm.get("filterChain") or {}).get("filter") or {}).get("subFilter") or {}).get("name")
            filters = chain["hcm"]["http_filters"]
            idx = next((j for j, f in enumerate(filters) if f["name"] == sub), None)
            if sub and idx is None and op not in ("ADD", "INSERT_FIRST"):
                raise ValueError(where + ": no HTTP filter %r in the stand-in chain %s" % (
                    sub, [f["name"] for f in filters]))
            if op == "INSERT_BEFORE":
                filters.insert(idx if idx is not None else 0, copy.deepcopy(value))
            elif op == "INSERT_AFTER":
                filters.insert(idx + 1 if idx is not None else len(filters), copy.deepcopy(value))
            elif op == "INSERT_FIRST":
                filters.insert(0, copy.deepcopy(value))
            elif op == "ADD":
                filters.append(copy.deepcopy(value))
            elif op == "REPLACE":
                filters[idx] = copy.deepcopy(value)
            elif op == "MERGE":
                istio_merge(filters[idx], value)
            elif op == "REMOVE":
                del filters[idx]
            else:
                raise ValueError(where + ": unsupported operation")
        elif apply_to in ("ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"):
            rcm = match.get("routeConfiguration") or {}
            for chain in route_config_chains(s, ctx, rcm, where):
                apply_route_patch(chain["hcm"]["route_config"], apply_to, op, rcm, value, where)
        elif apply_to == "CLUSTER":
            if op == "ADD":
                name = (value or {}).get("name")
                if not name:
                    raise ValueError(where + ": an added cluster needs a name")
                if name in s.clusters:
                    raise ValueError(where + ": cluster %r is added twice" % name)
                s.clusters[name] = copy.deepcopy(value)
            elif op in ("MERGE", "REMOVE"):
                cm = match.get("cluster") or {}
                name = cm.get("name")
                if not name:
                    if not cm.get("service") or not cm.get("portNumber"):
                        raise ValueError(where + ": match a cluster by name or by service and portNumber")
                    direction = "inbound" if ctx == "SIDECAR_INBOUND" else "outbound"
                    name = "%s|%d|%s|%s" % (direction, cm["portNumber"], cm.get("subset", ""),
                                            "" if direction == "inbound" else cm["service"])
                port_text = name.split("|")[1] if name.count("|") == 3 else ""
                if not port_text.isdigit():
                    raise ValueError(where + ": %r is not an Istio cluster name (direction|port|subset|host)" % name)
                cluster = s.clusters.setdefault(name, stand_in_cluster(name, int(port_text)))
                if op == "MERGE":
                    istio_merge(cluster, value)
                else:
                    del s.clusters[name]
            else:
                raise ValueError(where + ": unsupported operation")
        else:
            raise ValueError(where + ": the validator has no stand-in for applyTo %s" % apply_to)
    return s


def check_polled_clusters(name, s, report):
    """Clusters asset-gate calls out of band (not checked by Envoy) must exist."""
    names = set(s.clusters)
    for _, f in asset_gate_filters(s.bootstrap()["static_resources"]):
        try:
            cfg = filter_json(f)
        except ValueError:
            continue  # Envoy's validation reports it
        wanted = []
        if cfg.get("augment_headers"):
            wanted.append(cfg.get("header_providing_service_cluster", "sidecar"))
        creds = (cfg.get("signing") or {}).get("credentials") or {}
        if creds.get("source") == "endpoint":
            wanted.append(creds.get("cluster"))
        for c in wanted:
            report.check("%s: cluster %s that asset-gate polls exists" % (name, c), c in names,
                         "add it with a CLUSTER ADD patch; clusters: %s" % sorted(names))


def wasmplugin_bootstrap(wp, services):
    """The HTTP filter Istio builds from a WasmPlugin (pilot/pkg/model/extensions.go)."""
    spec = wp["spec"]
    url = spec.get("url", "")
    if not url.startswith("file://"):
        raise ValueError("only file:// WasmPlugins can be validated offline (url %r)" % url)
    env = {"key_values": {"ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": "1"}}
    host_keys = [e["name"] for e in (spec.get("vmConfig") or {}).get("env", []) if e.get("valueFrom") == "HOST"]
    for e in (spec.get("vmConfig") or {}).get("env", []):
        if e.get("valueFrom", "INLINE") == "INLINE":
            env["key_values"][e["name"]] = e.get("value", "")
    if host_keys:
        env["host_env_keys"] = host_keys
    config = {"name": "%s.%s" % (wp["metadata"].get("namespace", "default"), wp["metadata"]["name"]),
              "root_id": spec.get("pluginName", ""),
              "vm_config": {"runtime": "envoy.wasm.runtime.v8",
                            "code": {"local": {"filename": url[len("file://"):]}},
                            "environment_variables": env}}
    if spec.get("pluginConfig"):
        config["configuration"] = {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                   "value": json.dumps(spec["pluginConfig"])}
    policy = {"FAIL_CLOSE": "FAIL_CLOSED", "FAIL_OPEN": "FAIL_OPEN", "FAIL_RELOAD": "FAIL_RELOAD"}
    if spec.get("failStrategy") in policy:
        config["failure_policy"] = policy[spec["failStrategy"]]
    s = StandIn()
    modes = {"CLIENT": "SIDECAR_OUTBOUND", "SERVER": "SIDECAR_INBOUND"}
    for m in spec.get("match") or [{"mode": "CLIENT_AND_SERVER"}]:
        ctxs = [modes[m["mode"]]] if m.get("mode") in modes else list(modes.values())
        ports = [p["number"] for p in m.get("ports", []) if p.get("number")] or [8080]
        for ctx in ctxs:
            for port in ports:
                filters = s.chain(ctx, port)["hcm"]["http_filters"]
                filters.insert(len(filters) - 1, {"name": "%s.%s" % (config["name"], "wasm"), "typed_config": {
                    "@type": WASM_FILTER_TYPE, "config": copy.deepcopy(config)}})
    provider = (spec.get("pluginConfig") or {}).get("header_providing_service_cluster")
    if provider:
        port = mesh_service_port(provider, services)
        if port:
            s.clusters.setdefault(provider, stand_in_cluster(provider, port))
    return s


def envoy_validate(envoy, wasm, bootstrap, dump=None):
    text = json.dumps(bootstrap, indent=1)
    if dump:
        with open(dump, "w") as f:
            f.write(text)
    for _, d in walk(bootstrap):
        local = (d.get("code") or {}).get("local") if isinstance(d.get("code"), dict) else None
        if local and "filename" in local:
            text = text.replace(json.dumps(local["filename"]), json.dumps(wasm))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bootstrap.json")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([envoy, "--mode", "validate", "--disable-hot-restart", "-l", "info", "-c", path],
                           capture_output=True, text=True)
    log = r.stdout + r.stderr
    ok = r.returncode == 0 and "OK" in log
    tail = [l for l in log.splitlines() if "source/server/server.cc:4" not in l
            and "source/server/server.cc:5" not in l][-12:]
    return ok, "\n".join(tail)


def check_envoy(sources, envoy, wasm, report, dump_dir=None):
    jobs = {}
    seen = set()
    for where, docs in sources:
        services = [d for d in docs if kind_of(d) == ("v1", "Service")]
        for d in docs:
            k = kind_of(d)
            if k not in ISTIO_SCHEMAS or (k, doc_name(d)) in seen:
                continue
            seen.add((k, doc_name(d)))
            what = "envoy --mode validate: %s in a stand-in of Istio's config" % doc_name(d)
            try:
                if k[1] == "EnvoyFilter":
                    s = apply_envoyfilter(d)
                    check_polled_clusters(doc_name(d), s, report)
                else:
                    s = wasmplugin_bootstrap(d, services)
            except (ValueError, KeyError, TypeError) as e:
                report.fail(what, e)
                continue
            jobs[what] = s.bootstrap()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {}
        for what, b in jobs.items():
            dump = None
            if dump_dir:
                os.makedirs(dump_dir, exist_ok=True)
                dump = os.path.join(dump_dir, re.sub(r"[^A-Za-z0-9.-]+", "_", what.split(": ")[1].split(" in ")[0]) + ".json")
            futures[what] = pool.submit(envoy_validate, envoy, wasm, b, dump)
        for what in sorted(futures):
            ok, log = futures[what].result()
            report.check(what, ok, log)


# -------------------------------------------- standalone files (no kustomization)

# What Istio's gateway Helm chart deploys, as far as a patch of it matters.
GATEWAY_STAND_IN = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "istio-ingressgateway", "namespace": "istio-ingress"},
    "spec": {"selector": {"matchLabels": {"app": "istio-ingressgateway", "istio": "ingressgateway"}},
             "template": {"metadata": {"labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                                       "annotations": {"inject.istio.io/templates": "gateway"}},
                          "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]}}}}


def strategic_merge(dst, src):
    """kubectl's strategic merge patch, enough for Deployments: maps merge,
    lists of named objects merge by name, other lists are replaced."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            strategic_merge(dst[k], v)
        elif isinstance(v, list) and isinstance(dst.get(k), list) and all(
                isinstance(x, dict) and "name" in x for x in v + dst[k]):
            for item in v:
                old = next((x for x in dst[k] if x["name"] == item["name"]), None)
                if old is None:
                    dst[k].append(copy.deepcopy(item))
                else:
                    strategic_merge(old, item)
        else:
            dst[k] = copy.deepcopy(v)


def check_standalone(root, standalone, version, report):
    """A directory of files applied by hand (istio/gateway/): its Deployment
    patch, applied to a stand-in of Istio's gateway Deployment, must be valid
    and mount the module where its EnvoyFilters load it."""
    for where, docs, is_patch in standalone:
        if not is_patch:
            continue
        for d in docs:
            if kind_of(d) != ("apps/v1", "Deployment"):
                continue
            merged = copy.deepcopy(GATEWAY_STAND_IN)
            strategic_merge(merged, d)
            check_core(version, [(where + " applied to Istio's gateway Deployment:", [merged])], report)
            spec = merged["spec"]["template"]["spec"]
            cms = {v["name"]: (v.get("configMap") or {}).get("name") for v in spec.get("volumes", [])}
            proxy = next(c for c in spec["containers"] if c["name"] == "istio-proxy")
            paths = set()
            for m in proxy.get("volumeMounts", []):
                if cms.get(m["name"]):
                    report.check("%s: mount %s has no subPath (ConfigMap updates must arrive)" % (where, m["name"]),
                                 "subPath" not in m and "subPathExpr" not in m, m)
                    paths.add(m["mountPath"].rstrip("/") + "/" + MODULE_KEY)
            labels = merged["spec"]["template"]["metadata"]["labels"]
            directory = os.path.dirname(where)
            for w, others, p in standalone:
                if p or os.path.dirname(w) != directory:
                    continue
                for ef in others:
                    if kind_of(ef) == ("extensions.istio.io/v1alpha1", "WasmPlugin"):
                        sel = (ef["spec"].get("selector") or {}).get("matchLabels") or {}
                        url = ef["spec"].get("url", "")
                        report.check("%s %s selects the gateway %s patches" % (w, doc_name(ef), where),
                                     all(labels.get(k) == v for k, v in sel.items()),
                                     "selector %s, gateway labels %s" % (sel, labels))
                        report.check("%s %s loads the module the patch mounts (%s)" % (w, doc_name(ef), sorted(paths)),
                                     url.startswith("file://") and url[len("file://"):] in paths, "loads %s" % url)
                        check_gateway_scope("%s %s" % (w, doc_name(ef)), ef, report)
                        continue
                    if kind_of(ef) != ("networking.istio.io/v1alpha3", "EnvoyFilter"):
                        continue
                    sel = (ef["spec"].get("workloadSelector") or {}).get("labels") or {}
                    report.check("%s %s selects the gateway %s patches" % (w, doc_name(ef), where),
                                 all(labels.get(k) == v for k, v in sel.items()),
                                 "selector %s, gateway labels %s" % (sel, labels))
                    used = {module_path(f) for _, f in asset_gate_filters(ef["spec"].get("configPatches", []))}
                    report.check("%s %s loads the module the patch mounts (%s)" % (w, doc_name(ef), sorted(paths)),
                                 used and used <= paths, "loads %s" % sorted(used))


# ------------------------------------------------------------ 7. Compose

def split_volume(spec):
    """Short volume syntax SRC:DST[:MODE] (or long syntax) -> (src, dst, type)."""
    if isinstance(spec, dict):
        return spec.get("source"), spec.get("target"), spec.get("type", "volume")
    parts = spec.split(":")
    if len(parts) == 1:
        return None, parts[0], "volume"
    src, dst = parts[0], parts[1]
    return src, dst, "bind" if src.startswith((".", "/", "~")) else "volume"


def dockerignore_allows(patterns, path):
    allowed = True
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        if fnmatch.fnmatch(path, pat) or any(fnmatch.fnmatch("/".join(path.split("/")[:i]), pat)
                                             for i in range(1, path.count("/") + 1)):
            allowed = neg
    return allowed


def command_flag(cmd, flag):
    """Value of --flag N, -flag=N or -flag N in a command list."""
    for i, a in enumerate(cmd):
        for prefix in ("--" + flag, "-" + flag):
            if a == prefix and i + 1 < len(cmd):
                return cmd[i + 1]
            if a.startswith(prefix + "="):
                return a.split("=", 1)[1]
    return None


def check_compose(root, schemas, report):
    path = os.path.join(root, "docker-compose.yaml")
    try:
        compose = load_docs(path)[0]
    except Exception as e:
        report.fail("docker-compose.yaml parses", e)
        return
    if schemas:
        errs = schema_errors(validator_for(schemas, "compose-spec.json"), compose)
        report.check("docker-compose.yaml: Compose Specification schema (compose-spec.json)", not errs,
                     "\n".join(errs[:10]))
    services = compose.get("services") or {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        image = svc.get("image", "")
        if image and "build" not in svc:
            report.check("compose %s: image %s is pinned to a version" % (name, image),
                         re.search(r":[^/]+$", image) and not image.endswith(":latest"), "pin a tag")
        for v in svc.get("volumes", []):
            src, dst, typ = split_volume(v)
            if typ != "bind":
                continue
            local = os.path.normpath(os.path.join(root, src))
            if src.startswith("./dist/"):
                report.ok("compose %s mounts %s (made by `make build`)" % (name, src))
                continue
            report.check("compose %s mounts %s, which exists in the repository" % (name, src),
                         os.path.isfile(local) or os.path.isdir(local), "no such file: " + src)
        build = svc.get("build")
        if build is not None:
            ctx = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            df = os.path.normpath(os.path.join(root, ctx, dockerfile))
            if report.check("compose %s builds %s, which exists" % (name, rel(root, df)), os.path.isfile(df),
                            "no such file"):
                check_dockerfile(root, os.path.join(root, ctx), df, report)
    envoy = services.get("envoy") or {}
    report.check("compose has an envoy service on the envoyproxy/envoy 1.40 line",
                 str(envoy.get("image", "")).startswith(("envoyproxy/envoy:v1.40", "envoyproxy/envoy:distroless-v1.40")),
                 "image: %r" % envoy.get("image"))
    cmd = envoy.get("command") or ["-c", "/etc/envoy/envoy.yaml"]
    cmd = shlex.split(cmd) if isinstance(cmd, str) else cmd
    target = command_flag(cmd, "c") or "/etc/envoy/envoy.yaml"
    mounted = {split_volume(v)[1]: split_volume(v)[0] for v in envoy.get("volumes", [])}
    src = mounted.get(target)
    if not report.check("compose envoy mounts its config %s from the repository's envoy/" % target,
                        src is not None and os.path.normpath(src).startswith("envoy" + os.sep),
                        "mounted at %s: %r (e2e_configs validates only envoy/*.yaml)" % (target, src)):
        return
    try:
        cfg = load_docs(os.path.join(root, src))[0]
    except Exception as e:
        report.fail("compose Envoy config %s parses" % src, e)
        return
    wasm_mount = [d for d, s in mounted.items() if s and s.endswith(".wasm")]
    modules = {module_path(f) for _, f in asset_gate_filters(cfg)}
    report.check("compose Envoy config loads the mounted module %s" % wasm_mount,
                 modules and modules <= set(wasm_mount), "modules %s, mounted %s" % (modules, wasm_mount))
    listen = {}
    for s, svc in services.items():
        c = svc.get("command") or []
        c = shlex.split(c) if isinstance(c, str) else c
        port = command_flag(c, "port") or command_flag(c, "s3.port")
        if port:
            listen[s] = int(port)
    for cluster in cfg.get("static_resources", {}).get("clusters", []):
        if cluster.get("type") not in ("STRICT_DNS", "LOGICAL_DNS"):
            report.fail("compose Envoy cluster %s resolves a Compose service" % cluster["name"],
                        "type %r: use STRICT_DNS on a service name" % cluster.get("type"))
            continue
        for _, d in walk(cluster.get("load_assignment")):
            sa = d.get("socket_address")
            if not sa:
                continue
            host, port = sa.get("address"), sa.get("port_value")
            report.check("compose Envoy cluster %s -> %s:%s is a service listening there" % (
                cluster["name"], host, port), host in services and listen.get(host, port) == port,
                "services: %s; ports they listen on: %s" % (sorted(services), listen))
    envoy_ports = {cfg.get("admin", {}).get("address", {}).get("socket_address", {}).get("port_value")}
    for l in cfg.get("static_resources", {}).get("listeners", []):
        envoy_ports.add(l["address"]["socket_address"]["port_value"])
    for p in envoy.get("ports", []):
        container = int(str(p).split(":")[-1].split("/")[0])
        report.check("compose envoy publishes %s, a port Envoy listens on" % p, container in envoy_ports,
                     "Envoy listens on %s" % sorted(x for x in envoy_ports if x))
    # The identities file and the credentials Envoy signs with agree.
    env = envoy.get("environment") or {}
    key = re.sub(r"^\$\{[A-Z_]+:-(.*)\}$", r"\1", str(env.get("AWS_ACCESS_KEY_ID", "")))
    weed = services.get("seaweedfs") or {}
    ids = command_flag(weed.get("command") or [], "s3.config")
    if ids:
        host = {split_volume(v)[1]: split_volume(v)[0] for v in weed.get("volumes", [])}.get(ids)
        try:
            with open(os.path.join(root, host)) as f:
                keys = [c["accessKey"] for i in json.load(f)["identities"] for c in i["credentials"]]
        except Exception as e:
            report.fail("compose seaweedfs identities file %s is mounted and readable" % ids, e)
            return
        report.check("compose Envoy's default access key is one SeaweedFS knows", key in keys,
                     "%r not in %s" % (key, keys))


def check_dockerfile(root, context, dockerfile, report):
    ignore_file = dockerfile + ".dockerignore"
    if not os.path.exists(ignore_file):
        ignore_file = os.path.join(context, ".dockerignore")
    patterns = []
    if os.path.exists(ignore_file):
        with open(ignore_file) as f:
            patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    with open(dockerfile) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for line in lines:
        words = line.split()
        if not words or words[0].upper() not in ("COPY", "ADD") or any(w.startswith("--from") for w in words):
            continue
        for src in [w for w in words[1:-1] if not w.startswith("--")]:
            path = os.path.normpath(os.path.join(context, src))
            rp = rel(context, path)
            report.check("%s: COPY %s exists and is in the build context" % (rel(root, dockerfile), src),
                         os.path.exists(path) and dockerignore_allows(patterns, rp),
                         "missing, or excluded by %s" % rel(root, ignore_file))


# ------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--schemas")
    ap.add_argument("--k8s-version", default="1.33")
    ap.add_argument("--dump-dir", help="write the Envoy bootstraps built from the Istio manifests here")
    ap.add_argument("--skip-envoy", action="store_true", help="skip step 6 (for quick negative tests)")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    report = Report()
    with open(args.wasm, "rb") as f:
        wasm_bytes = f.read()

    parsed = parse_all(root, report)
    rendered = render(root, args.kubectl, args.wasm, report)
    patch_files = set()
    for d in KUSTOMIZE_DIRS + ["istio/base"]:
        kfile = os.path.join(root, d, "kustomization.yaml")
        for k in parsed.get(kfile, []):
            for p in k.get("patches", []):
                if "path" in p:
                    patch_files.add(os.path.normpath(os.path.join(root, d, p["path"])))
    raw = [(rel(root, p), docs) for p, docs in sorted(parsed.items())
           if p != os.path.join(root, "docker-compose.yaml")]
    is_patch = {w: os.path.join(root, w) in patch_files or w.endswith("-patch.yaml") for w, _ in raw}
    raw_complete = [(w, docs) for w, docs in raw if not is_patch[w]]
    rendered_sources = [("kustomize %s/:" % d, docs) for d, docs in sorted(rendered.items())]
    # Files in a directory without a kustomization are applied by hand.
    standalone = [(w, docs, is_patch[w]) for w, docs in raw
                  if not os.path.exists(os.path.join(root, os.path.dirname(w), "kustomization.yaml"))]

    schemas = args.schemas if args.schemas and os.path.isdir(args.schemas) else None
    if schemas:
        check_istio_schemas(schemas, raw + rendered_sources, report)
    else:
        print("skipped: ../shared/schemas not found (Istio and Compose schema validation)", flush=True)

    check_core(args.k8s_version, raw_complete + rendered_sources, report)
    for d, docs in sorted(rendered.items()):
        check_consistency("kustomize %s/" % d, docs, wasm_bytes, report)
    check_standalone(root, standalone, args.k8s_version, report)
    envoy_sources = [(d, docs) for d, docs in sorted(rendered.items())] + \
        [(w, docs) for w, docs, p in standalone if not p]
    if args.skip_envoy:
        print("skipped: envoy --mode validate (--skip-envoy)", flush=True)
    else:
        check_envoy(envoy_sources, args.envoy, os.path.abspath(args.wasm), report, args.dump_dir)
    check_compose(root, schemas, report)

    print("validation: %d passed, %d failed" % (report.passed, len(report.failed)), flush=True)
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
