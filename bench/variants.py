"""The variants `make bench` and `make bench-instructions` compare, and what
each one's storage request should carry (checked by bench/checks.py)."""
import envoy_configs as ec

# Every variant, in the order of a round; the listener of the Envoy under
# test (or of nginx, for n1 and n2) is named after it.
VARIANTS = [
    ("a", "plain proxy"),
    ("b", "native aws_request_signing"),
    ("c", "asset-gate signing"),
    ("d", "asset-gate signing + header augmentation"),
    ("e", "asset-gate flow A (edge + auth_backend + storage)"),
    ("f", "no-op proxy-wasm filter"),
    ("g", "wasm floor (host calls of a signer)"),
    ("k", "wasm floor, header map read in place"),
    ("h", "config-only flow A (native signer)"),
    ("i", "asset-gate flow D (gateway: auth subrequest, then signed storage request)"),
    ("j", "asset-gate flow D, decision cache hit"),
    ("n1", "nginx plain proxy_pass"),
    ("n2", "nginx X-Accel-Redirect"),
]
PATHS = {"a": ec.OBJECT_PATH, "b": ec.OBJECT_PATH, "c": ec.OBJECT_PATH, "d": ec.OBJECT_PATH, "e": ec.ASSET_PATH,
         "f": ec.OBJECT_PATH, "g": ec.OBJECT_PATH, "k": ec.OBJECT_PATH, "h": ec.SEED_ASSET_PATH, "i": ec.ASSET_PATH,
         "j": ec.CACHED_PREFIX + "obj.bin", "n1": ec.OBJECT_PATH,
         "n2": ec.ASSET_PATH}
NGINX_VARIANTS = ("n1", "n2")
TWO_HOPS = ("e", "h", "i", "n2")  # an auth request, then the storage request
# What storage receives: a SigV4 signature, the floor's constant headers, or nothing.
SIGNED = ("b", "c", "d", "e", "h", "i", "j")
FLOOR_SIGNED = ("g", "k")
