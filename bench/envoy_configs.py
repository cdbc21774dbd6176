"""Envoy configurations for `make bench`, built as Python data and written as YAML.

Two Envoy processes:

* the **origin** (`origin_config`): direct_response routes only, so it answers
  as fast as Envoy can and is never what limits a round. It plays the object
  store (`/bench/...`: a body of a few KiB), the auth backend (`/assets/...`:
  an empty 200 with `x-accel-redirect`) and the header provider (`/headers`:
  a JSON object). It verifies no signatures (`make test` proves those); an
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
  ====  ==========================================================================

  plus `a_s3`, `b_s3`, `c_s3`, `e_s3`: the same as a, b, c, e, but with the
  storage clusters pointing at SeaweedFS (SigV4 enforced) instead of the origin.
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

# Paths the harness requests; the origin routes below answer them.
OBJECT_PATH = "/bench/obj.bin"  # a..d: the path already is /bucket/key
ASSET_PATH = "/assets/obj.bin"  # e: the auth backend redirects to /internal-assets/obj.bin
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
        # S3 paths are signed as sent: no normalisation anywhere (README advice).
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


def asset_gate(name, wasm, config):
    """One asset-gate placement; every placement shares the VM `asset_gate`."""
    return {
        "name": "asset_gate",
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


def native_signer(creds, region):
    """Envoy's own SigV4 filter, configured as the issue asks (S3, unsigned payload, inline credentials)."""
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
    return {"role": "storage", "signing": signing}


EDGE = {"role": "edge"}
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


def to_cluster(cluster_name, timeout):
    return [{"match": {"prefix": "/"}, "route": {"cluster": cluster_name, "timeout": timeout}}]


def bench_config(wasm, origin_port, s3_port, creds, region, poll_interval):
    ag = lambda name, cfg: asset_gate(name, wasm, cfg)  # noqa: E731
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
        listener("e", hcm("e", flow_a_routes("auth_e", "storage_e", t), [ag("bench_e_edge", EDGE)])),
        listener("a_s3", hcm("a_s3", to_cluster("s3_a", big))),
        listener("b_s3", hcm("b_s3", to_cluster("s3_b", big))),
        listener("c_s3", hcm("c_s3", to_cluster("s3_c", big))),
        listener("e_s3", hcm("e_s3", flow_a_routes("auth_e_s3", "storage_e_s3", big), [ag("bench_e_s3_edge", EDGE)])),
    ]
    clusters = [
        cluster("origin_a", origin_port),
        cluster("origin_b", origin_port, [native_signer(creds, region)]),
        cluster("origin_c", origin_port, [ag("bench_c_storage", sign_edge)]),
        cluster("origin_d", origin_port, [ag("bench_d_storage", sign_edge)]),
        cluster("auth_e", origin_port, [ag("bench_e_auth", AUTH)]),
        cluster("storage_e", origin_port, [ag("bench_e_storage", mapped)]),
        cluster("sidecar", origin_port),
        cluster("s3_a", s3_port),
        cluster("s3_b", s3_port, [native_signer(creds, region)]),
        cluster("s3_c", s3_port, [ag("bench_c_s3_storage", sign_edge)]),
        cluster("auth_e_s3", origin_port, [ag("bench_e_s3_auth", AUTH)]),
        cluster("storage_e_s3", s3_port, [ag("bench_e_s3_storage", mapped_s3)]),
    ]
    return {"admin": {"address": addr(0)}, "static_resources": {"listeners": listeners, "clusters": clusters}}
