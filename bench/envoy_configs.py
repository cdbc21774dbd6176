"""Envoy configurations for `make bench`, built as Python data and written as YAML.

Two Envoy processes:

* the **origin** (`origin_config`): direct_response routes only, so it answers
  as fast as Envoy can and is never what limits a round. It plays the object
  store (`/bench/...`: a body of a few KiB), the auth backends (`/assets/...`:
  an empty 200 with `x-accel-redirect`, for asset-gate and nginx;
  `/seed-assets/...`: the config-only recipe's empty `307` with
  `x-internal-redirect: true` and `Location: http://<the request's
  authority>/internal-assets/...`) and the header provider (`/headers`: a
  JSON object). It verifies no signatures (`make test` proves those); an
  access log records requests that carry `x-bench-probe`, so the harness can
  show what each variant really sent.
* the **Envoy under test** (`bench_config`): one listener per variant, all
  with the same connection-manager settings, each with its own clusters:

  ====  ==========================================================================
  a     plain proxy
  b     Envoy's native `envoy.filters.http.aws_request_signing`, upstream filter
  c     asset-gate `storage` role (require_marker false), upstream filter
  d     (c) + a downstream asset-gate `edge` role with `augment_headers`
  e     flow A: downstream `edge`, `auth_backend` upstream on the auth cluster
        (the backend answers `X-Accel-Redirect`), internal redirect, `storage`
        upstream on the storage cluster
  f     the wasm floor's `noop` module (bench/floor: proxy-wasm Rust SDK, every
        callback the SDK's default `Continue`), upstream filter
  g     the wasm floor's `floor` module: reads the header map once, reads the
        clock, sets 3 constant SigV4 headers (the host calls a signer needs)
  k     (g) with the header map read in place (`floor_raw`), not copied by the SDK
  h     the config-only flow A, no wasm: the auth backend
        answers `307` + `x-internal-redirect: true` + an absolute `Location`
        on this listener; `internal_redirect_policy` (307, copy the marker,
        allow-listed internal route), `internal_only_headers`, the internal
        route matching the marker (prefix rewrite to the bucket, marker
        removed), Envoy's native signer upstream on the storage cluster
  ====  ==========================================================================

  plus `a_s3`, `b_s3`, `c_s3`, `e_s3`, `h_s3`: the same as a, b, c, e, h, but
  with the storage clusters pointing at SeaweedFS (SigV4 enforced) instead of
  the origin.

nginx (`nginx_config`, variants n1 and n2) is configured in this file too.
"""
import json

ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}
UPSTREAM_CODEC = {
    "name": "envoy.filters.http.upstream_codec",
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec"
    },
}
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NATIVE_TYPE = "type.googleapis.com/envoy.extensions.filters.http.aws_request_signing.v3.AwsRequestSigning"
MARKER = "x-internal-redirect"
PROBE = "x-bench-probe"  # the harness's one-off probes carry it; the origin logs only those

# Paths the harness requests; the origin routes below answer them.
OBJECT_PATH = "/bench/obj.bin"  # a..d: the path already is /bucket/key
ASSET_PATH = "/assets/obj.bin"  # e: the auth backend redirects to /internal-assets/obj.bin
SEED_ASSET_PATH = "/seed-assets/obj.bin"  # h: the auth backend answers the config-only recipe's 307
SEED_PREFIX = "/seed-assets/"
BIG_KEY = "big.bin"
PRIVATE_BUCKET = "private"  # no anonymous access: only valid signatures read it


def addr(port):
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def header(key, value):
    return {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}


def hcm(stat_prefix, routes, filters=(), access_log=None, extra_route_config=None):
    route_config = {"name": stat_prefix, "virtual_hosts": [{"name": stat_prefix, "domains": ["*"], "routes": routes}]}
    route_config.update(extra_route_config or {})
    cfg = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        # S3 paths are signed as sent: no normalisation anywhere (docs/flows/c-signing-edge.md).
        "normalize_path": False,
        "merge_slashes": False,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
        "route_config": route_config,
        "http_filters": list(filters) + [ROUTER],
    }
    if access_log:
        cfg["access_log"] = access_log
    return cfg


def listener(name, hcm_cfg, port=0):
    return {
        "name": name,
        "address": addr(port),
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm_cfg}]}],
    }


def cluster(name, port, upstream_filters=None):
    c = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": addr(port)}}]}]},
    }
    if upstream_filters is not None:
        c["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {}},
                "http_filters": list(upstream_filters) + [UPSTREAM_CODEC],
            }
        }
    return c


def asset_gate(name, wasm, config, filter_name="asset_gate"):
    """One asset-gate placement; every placement shares the VM `asset_gate`."""
    return {
        "name": filter_name,
        "typed_config": {
            "@type": WASM_TYPE,
            "config": {
                "name": name,
                "root_id": "asset_gate",
                "vm_config": {
                    "vm_id": "asset_gate",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm}},
                },
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": json.dumps(config)},
            },
        },
    }


def floor_filter(name, wasm, mode):
    """The wasm floor (bench/floor) in mode `noop`, `floor` or `floor_raw`; every placement shares the VM `bench_floor`."""
    return {
        "name": "bench_floor",
        "typed_config": {
            "@type": WASM_TYPE,
            "config": {
                "name": name,
                "root_id": "bench_floor",
                "vm_config": {
                    "vm_id": "bench_floor",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm}},
                },
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": mode},
            },
        },
    }


def native_signer(creds, region):
    """Envoy's own SigV4 filter, set up as asset-gate's peer: S3, unsigned payload, inline credentials."""
    return {
        "name": "envoy.filters.http.aws_request_signing",
        "typed_config": {
            "@type": NATIVE_TYPE,
            "service_name": "s3",
            "region": region,
            "use_unsigned_payload": True,
            # With inline_credential no other credentials provider is consulted.
            "credential_provider": {
                "inline_credential": {"access_key_id": creds[0], "secret_access_key": creds[1]}
            },
        },
    }


def storage_role(creds, region, buckets=None, require_marker=True):
    signing = {
        "region": region,
        "require_marker": require_marker,
        "credentials": {"source": "static", "access_key_id": creds[0], "secret_access_key": creds[1]},
    }
    if buckets:
        signing["buckets"] = buckets
    if require_marker:
        # Flow A sends storage only an allowlist of the client's headers: let
        # the harness's probe header through so the origin logs the request.
        signing["forward_request_headers"] = [PROBE]
    return {"role": "storage", "signing": signing}


EDGE = {"role": "edge"}
CACHED_PREFIX = "/cached-assets/"


def gateway_role(creds, region, auth_cluster):
    """Flow D: the gateway asks `auth_cluster` (the origin's auth routes) and signs for bucket `bench`.

    The decision cache is on; only answers with `Cache-Control: private,
    max-age` (the origin's /cached-assets/) are cached. The probe header is
    forwarded to the auth backend and to storage so the origin logs both.
    """
    return {
        "role": "gateway",
        "gateway": {"auth_cluster": auth_cluster, "auth_authority": "auth", "auth_timeout": "5s",
                    "forward_headers": ["cookie", "authorization", PROBE],
                    "decision_cache": {"max_age": "300s", "max_entries": 1024}},
        "redirect": {"internal_prefixes": ["/internal-assets/"]},
        "signing": {
            "region": region,
            "credentials": {"source": "static", "access_key_id": creds[0], "secret_access_key": creds[1]},
            "buckets": [{"prefix": "/internal-assets/", "bucket": "bench"}],
            "forward_request_headers": [PROBE],
        },
    }
EDGE_FILTER = "asset_gate_edge"
AUTH = {"role": "auth_backend"}


def augment_role(interval):
    return {
        "role": "edge",
        "augment_headers": True,
        "header_providing_service_cluster": "sidecar",
        "header_providing_service_authority": "sidecar",
        "header_providing_service_path": "/headers",
        "header_cache_expiry": interval,
    }


def direct(name, match, status, body=None, headers=()):
    r = {"name": name, "match": match, "direct_response": {"status": status}}
    if body is not None:
        r["direct_response"]["body"] = {"inline_string": body}
    if headers:
        r["response_headers_to_add"] = [header(k, v) for k, v in headers]
    return r


def origin_config(body, provider_json, access_log_path):
    """The local origin: object store, auth backend and header provider in one fast Envoy."""
    log_format = {
        "probe": "%REQ(X-BENCH-PROBE)%",
        "method": "%REQ(:METHOD)%",
        "path": "%REQ(:PATH)%",
        "authority": "%REQ(:AUTHORITY)%",
        "authorization": "%REQ(AUTHORIZATION)%",
        "x_amz_date": "%REQ(X-AMZ-DATE)%",
        "x_amz_content_sha256": "%REQ(X-AMZ-CONTENT-SHA256)%",
        "x_idp_token": "%REQ(X-IDP-TOKEN)%",
        "marker": "%REQ(X-INTERNAL-REDIRECT)%",
        "status": "%RESPONSE_CODE%",
    }
    access_log = [{
        "name": "envoy.access_loggers.file",
        # Only the harness's one-off probes are logged, never the load.
        "filter": {"header_filter": {"header": {"name": "x-bench-probe", "present_match": True}}},
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": access_log_path,
            "log_format": {"json_format": log_format},
        },
    }]
    routes = [
        direct("provider", {"path": "/headers"}, 200, provider_json, [("content-type", "application/json")]),
        # The auth backend: consent as nginx-style X-Accel-Redirect on an empty 200.
        direct("auth_big", {"path": f"/assets/{BIG_KEY}"}, 200, None,
               [("x-accel-redirect", f"/internal-assets/{BIG_KEY}")]),
        direct("auth_private", {"path": f"/assets/{PRIVATE_BUCKET}/obj.bin"}, 200, None,
               [("x-accel-redirect", f"/internal-assets/{PRIVATE_BUCKET}/obj.bin")]),
        direct("auth", {"prefix": "/assets/"}, 200, None, [("x-accel-redirect", "/internal-assets/obj.bin")]),
        # Flow D's cached variant (j): the same consent, cacheable.
        direct("auth_cached", {"prefix": CACHED_PREFIX}, 200, None,
               [("x-accel-redirect", "/internal-assets/obj.bin"), ("cache-control", "private, max-age=300")]),
        # The config-only recipe's auth backend: an empty 307 flagged internal, to an
        # absolute Location on the listener the request came through (Envoy
        # follows only absolute URLs); the origin sees that authority as sent.
        direct("seed_auth_private", {"path": f"{SEED_PREFIX}{PRIVATE_BUCKET}/obj.bin"}, 307, None,
               [("location", f"http://%REQ(:AUTHORITY)%/internal-assets/{PRIVATE_BUCKET}/obj.bin"),
                (MARKER, "true")]),
        direct("seed_auth", {"prefix": SEED_PREFIX}, 307, None,
               [("location", "http://%REQ(:AUTHORITY)%/internal-assets/obj.bin"), (MARKER, "true")]),
        # The object store.
        direct("object", {"prefix": "/bench/"}, 200, body,
               [("content-type", "application/octet-stream"), ("etag", '"bench-object"')]),
        direct("other", {"prefix": "/"}, 404, "no such route on the bench origin\n"),
    ]
    return {
        "admin": {"address": addr(0)},
        "static_resources": {
            "listeners": [listener("origin", hcm("origin", routes, access_log=access_log,
                                                 extra_route_config={"max_direct_response_body_size_bytes": 1 << 20}))],
        },
    }


def flow_a_routes(auth_cluster, storage_cluster, timeout):
    internal = f"{auth_cluster}_internal"
    return [
        {
            "name": internal,
            "match": {"prefix": "/internal-assets/", "headers": [{"name": MARKER, "present_match": True}]},
            "route": {"cluster": storage_cluster, "timeout": timeout},
            # As the shipped configs: the edge role is off on the internal route.
            "typed_per_filter_config": {EDGE_FILTER: {
                "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "disabled": True}},
        },
        {
            "name": f"{auth_cluster}_assets",
            "match": {"prefix": "/assets/"},
            "route": {
                "cluster": auth_cluster,
                "timeout": timeout,
                "internal_redirect_policy": {
                    "max_internal_redirects": 1,
                    "redirect_response_codes": [303],
                    "response_headers_to_copy": [MARKER],
                    "predicates": [{
                        "name": "envoy.internal_redirect_predicates.allow_listed_routes",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.internal_redirect.allow_listed_routes.v3.AllowListedRoutesConfig",
                            "allowed_route_names": [internal],
                        },
                    }],
                },
            },
        },
    ]


def seed_flow_routes(auth_cluster, storage_cluster, timeout, buckets):
    """The config-only flow A: Envoy alone, native signer on the storage cluster.

    The backend's `307` + `x-internal-redirect: true` is followed internally
    (the marker copied onto the redirected request), the internal route
    matches only with the marker (`internal_only_headers` on the route
    config drops it from client requests), maps the path to the bucket by
    prefix rewrite and removes the marker before the upstream filters sign.
    `buckets`: (path prefix under /internal-assets/, bucket), most specific first.
    """
    internal = [{
        "name": f"{auth_cluster}_internal_{i}",
        "match": {"prefix": f"/internal-assets/{prefix}", "headers": [{"name": MARKER, "present_match": True}]},
        "route": {"cluster": storage_cluster, "timeout": timeout, "prefix_rewrite": f"/{bucket}/"},
        "request_headers_to_remove": [MARKER],
    } for i, (prefix, bucket) in enumerate(buckets)]
    return internal + [{
        "name": f"{auth_cluster}_assets",
        "match": {"prefix": SEED_PREFIX},
        "route": {
            "cluster": auth_cluster,
            "timeout": timeout,
            "internal_redirect_policy": {
                "max_internal_redirects": 1,
                "redirect_response_codes": [307],
                "response_headers_to_copy": [MARKER],
                "predicates": [{
                    "name": "envoy.internal_redirect_predicates.allow_listed_routes",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.internal_redirect.allow_listed_routes.v3.AllowListedRoutesConfig",
                        "allowed_route_names": [r["name"] for r in internal],
                    },
                }],
            },
        },
    }]


SEED_ROUTE_CONFIG = {"internal_only_headers": [MARKER]}


def to_cluster(cluster_name, timeout):
    return [{"match": {"prefix": "/"}, "route": {"cluster": cluster_name, "timeout": timeout}}]


def bench_config(wasm, floor_wasm, origin_port, s3_port, creds, region, poll_interval):
    ag = lambda name, cfg, filter_name="asset_gate": asset_gate(name, wasm, cfg, filter_name)  # noqa: E731
    fl = lambda name, mode: floor_filter(name, floor_wasm, mode)  # noqa: E731
    sign_edge = storage_role(creds, region, require_marker=False)
    mapped = storage_role(creds, region, buckets=[{"prefix": "/internal-assets/", "bucket": "bench"}])
    mapped_s3 = storage_role(creds, region, buckets=[
        {"prefix": f"/internal-assets/{PRIVATE_BUCKET}/", "bucket": PRIVATE_BUCKET},
        {"prefix": "/internal-assets/", "bucket": "bench"},
    ])
    t, big = "15s", "300s"
    listeners = [
        listener("a", hcm("a", to_cluster("origin_a", t))),
        listener("b", hcm("b", to_cluster("origin_b", t))),
        listener("c", hcm("c", to_cluster("origin_c", t))),
        listener("d", hcm("d", to_cluster("origin_d", t), [ag("bench_d_edge", augment_role(poll_interval))])),
        listener("e", hcm("e", flow_a_routes("auth_e", "storage_e", t), [ag("bench_e_edge", EDGE, EDGE_FILTER)])),
        listener("f", hcm("f", to_cluster("origin_f", t))),
        listener("i", hcm("i", to_cluster("origin_i", t), [ag("bench_i_gateway", gateway_role(creds, region, "auth_i"))])),
        listener("j", hcm("j", to_cluster("origin_j", t), [ag("bench_j_gateway", gateway_role(creds, region, "auth_j"))])),
        listener("g", hcm("g", to_cluster("origin_g", t))),
        listener("k", hcm("k", to_cluster("origin_k", t))),
        listener("h", hcm("h", seed_flow_routes("auth_h", "storage_h", t, [("", "bench")]),
                          extra_route_config=SEED_ROUTE_CONFIG)),
        listener("a_s3", hcm("a_s3", to_cluster("s3_a", big))),
        listener("b_s3", hcm("b_s3", to_cluster("s3_b", big))),
        listener("c_s3", hcm("c_s3", to_cluster("s3_c", big))),
        listener("e_s3", hcm("e_s3", flow_a_routes("auth_e_s3", "storage_e_s3", big), [ag("bench_e_s3_edge", EDGE, EDGE_FILTER)])),
        listener("h_s3", hcm("h_s3", seed_flow_routes("auth_h_s3", "storage_h_s3", big, [
            (f"{PRIVATE_BUCKET}/", PRIVATE_BUCKET), ("", "bench")]), extra_route_config=SEED_ROUTE_CONFIG)),
    ]
    clusters = [
        cluster("origin_a", origin_port),
        cluster("origin_b", origin_port, [native_signer(creds, region)]),
        cluster("origin_c", origin_port, [ag("bench_c_storage", sign_edge)]),
        cluster("origin_d", origin_port, [ag("bench_d_storage", sign_edge)]),
        cluster("auth_e", origin_port, [ag("bench_e_auth", AUTH)]),
        cluster("storage_e", origin_port, [ag("bench_e_storage", mapped)]),
        cluster("origin_f", origin_port, [fl("bench_f_noop", "noop")]),
        cluster("origin_i", origin_port),
        cluster("auth_i", origin_port),
        cluster("origin_j", origin_port),
        cluster("auth_j", origin_port),
        cluster("origin_g", origin_port, [fl("bench_g_floor", "floor")]),
        cluster("origin_k", origin_port, [fl("bench_k_floor", "floor_raw")]),
        cluster("auth_h", origin_port),
        cluster("storage_h", origin_port, [native_signer(creds, region)]),
        cluster("sidecar", origin_port),
        cluster("s3_a", s3_port),
        cluster("s3_b", s3_port, [native_signer(creds, region)]),
        cluster("s3_c", s3_port, [ag("bench_c_s3_storage", sign_edge)]),
        cluster("auth_e_s3", origin_port, [ag("bench_e_s3_auth", AUTH)]),
        cluster("storage_e_s3", s3_port, [ag("bench_e_s3_storage", mapped_s3)]),
        cluster("auth_h_s3", origin_port),
        cluster("storage_h_s3", s3_port, [native_signer(creds, region)]),
    ]
    return {"admin": {"address": addr(0)}, "static_resources": {"listeners": listeners, "clusters": clusters}}


def nginx_config(d, origin_port, plain_port, accel_port):
    """One nginx, one worker, two servers: (n1) plain proxy_pass, (n2) X-Accel-Redirect.

    Run unprivileged-friendly from its own directory `d` (pid, logs and temp
    paths there; foreground master, as e2e/harness/nginx.rs does). Pooled
    upstream connections like Envoy's (`keepalive`, HTTP/1.1, no
    `Connection: close`), no access log (the Envoy under test has none), and
    keep-alive limits lifted so neither side closes connections mid-round.
    """
    return f"""# generated by bench/envoy_configs.py (make bench)
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    access_log off;
    keepalive_requests 1000000;

    upstream origin {{
        server 127.0.0.1:{origin_port};
        keepalive 32;
        keepalive_requests 1000000;
    }}
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    # (n1) plain proxy, like (a).
    server {{
        listen 127.0.0.1:{plain_port};
        location / {{
            proxy_pass http://origin;
        }}
    }}

    # (n2) flow A the nginx way: the auth backend answers X-Accel-Redirect,
    # nginx serves the internal location from the object store.
    server {{
        listen 127.0.0.1:{accel_port};
        location /assets/ {{
            proxy_pass http://origin;
        }}
        location /internal-assets/ {{
            internal;
            proxy_pass_request_body off;
            # A location's own proxy_set_header replaces the inherited ones.
            proxy_set_header Content-Length "";
            proxy_set_header Connection "";
            proxy_pass http://origin/bench/;
        }}
    }}
}}
"""
