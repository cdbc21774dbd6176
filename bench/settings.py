"""The settings of one `make bench` run: `BENCH_*` environment variables,
documented at the top of bench/run.py. A bad value stops the run before
anything starts, naming the variable."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def setting(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        if isinstance(default, str):
            return raw
        sys.exit(f"{name}={raw!r}: expected an integer")
    if value < 0:
        sys.exit(f"{name}={raw!r}: expected a non-negative integer")
    return value


S = {
    "rounds": setting("BENCH_ROUNDS", 6),
    "duration": setting("BENCH_DURATION", 5),
    "warmup": setting("BENCH_WARMUP", 2),
    "connections": setting("BENCH_CONNECTIONS", 16),
    "threads": setting("BENCH_THREADS", 1),
    "body": setting("BENCH_BODY_BYTES", 4096),
    "s3_round": setting("BENCH_S3_ROUND", 1),
    "stream_mib": setting("BENCH_STREAM_MIB", 1024),
    "stream_rounds": setting("BENCH_STREAM_ROUNDS", 3),
    "quiet_pct": setting("BENCH_QUIET_PCT", 25),
    "extra_rounds": setting("BENCH_EXTRA_ROUNDS", 3),
    "quiet_wait": setting("BENCH_QUIET_WAIT", 60),
    "keep": setting("BENCH_KEEP", 0),
    "instructions": setting("BENCH_INSTRUCTIONS", 300),
    "output": setting("BENCH_OUTPUT", os.path.join(HERE, "RESULTS.md")),
}
