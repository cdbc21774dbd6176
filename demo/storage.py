#!/usr/bin/env python3
"""`make storage`: a local S3 for your own app behind asset-gate
(docs/your-app.md). SeaweedFS from .venv, enforcing SigV4, with one bucket
and one key pair, in the foreground; prints what Envoy's configuration
needs and a command that uploads. Ctrl-C stops it and deletes its data.

Environment (defaults):
  ASSET_GATE_S3_PORT  8333       the S3 API, on 127.0.0.1
  ASSET_GATE_BUCKET   my-assets  the bucket (envoy/assets.yaml's)
"""
import os
import re
import sys

from stack import ACCESS_KEY, BIN, REGION, SECRET_KEY, Stack, port


def main():
    s3 = port("ASSET_GATE_S3_PORT", 8333)
    bucket = os.environ.get("ASSET_GATE_BUCKET", "my-assets")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        sys.exit(f"ASSET_GATE_BUCKET={bucket!r} is not an S3 bucket name")
    with Stack("asset-gate-storage-") as stack:
        stack.seaweedfs(s3, bucket)
        keys = f"AWS_ACCESS_KEY_ID={ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SECRET_KEY}"
        print(f"""
Local S3 storage is up (SeaweedFS, SigV4 enforced; log and data in {stack.work}).

  endpoint  http://127.0.0.1:{s3}    (signing.endpoint "127.0.0.1:{s3}", addressing_style "path")
  region    {REGION}
  bucket    {bucket}
  keys      {keys}

Upload the files of a folder (a file's path in it becomes its key; the AWS CLI
sets each object's Content-Type from its extension):

  {keys} AWS_DEFAULT_REGION={REGION} {BIN}/aws --endpoint-url http://127.0.0.1:{s3} s3 sync media/ s3://{bucket}/ --no-progress

Ctrl-C stops it and deletes what was uploaded.
""", flush=True)
        stack.watch()


if __name__ == "__main__":
    main()
