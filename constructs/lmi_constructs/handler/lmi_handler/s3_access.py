"""S3 from inside the container with only what the LMI images ship: s5cmd (the fast path, at
/opt/djl/bin/s5cmd) or botocore (from the AWS CLI in the DeepSpeed images). boto3 is not in the
0.20 image, and the container may have no route to PyPI, so nothing is installed at start.

Each returns what the download needs: the objects under a prefix with their sizes, the bytes of
one object that the listing showed, and files copied to local paths. "Absent" is decided from
the listing, never from an error: S3 answers 403, not 404, for a missing key to a caller
without s3:ListBucket (GetObject documentation, "Permissions").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, Tuple


class S3AccessError(RuntimeError):
    """An S3 call failed; denied is True when S3 refused it (403 / AccessDenied)."""

    def __init__(self, message: str, denied: bool = False):
        super().__init__(message)
        self.denied = denied


def open_s3(s5cmd: str, workers: int):
    """S5cmd when the binary is there (the configured path, else PATH), else Botocore.
    An empty s5cmd (option.s5cmd=) turns s5cmd off."""
    binary = None
    if s5cmd:
        binary = s5cmd if os.access(s5cmd, os.X_OK) else shutil.which("s5cmd")
    if binary:
        return S5cmd(binary, workers)
    try:
        return Botocore(workers)
    except ImportError:
        raise S3AccessError(
            f"neither s5cmd ({s5cmd}, or on PATH) nor botocore is in this "
            "image: use a djl-inference image (they ship s5cmd), or set "
            "option.s5cmd to its path"
        ) from None


class S5cmd:
    name = "s5cmd"

    def __init__(self, binary: str, workers: int):
        self.binary, self.workers = binary, workers

    def _run(self, *arguments: str) -> str:
        command = [self.binary]
        if os.environ.get("AWS_ENDPOINT_URL"):  # an S3-compatible server (tests, lmi local)
            command += ["--endpoint-url", os.environ["AWS_ENDPOINT_URL"]]
        done = subprocess.run(command + list(arguments), capture_output=True, text=True)
        if done.returncode:
            error = done.stderr.strip()[-800:]
            verb = arguments[1] if arguments[0] == "--json" else arguments[0]
            raise S3AccessError(
                f"s5cmd {verb} failed ({done.returncode}): {error}",
                denied="AccessDenied" in error or "403" in error,
            )
        return done.stdout

    def list(self, bucket: str, prefix: str) -> Dict[str, int]:
        try:
            output = self._run("--json", "ls", f"s3://{bucket}/{prefix}*")
        except S3AccessError as error:
            if "no object found" in str(error):
                return {}
            raise
        found = {}
        for line in output.splitlines():
            item = json.loads(line)
            if item.get("type") == "file":  # s5cmd leaves "size" out of an empty object's line
                found[item["key"][len(f"s3://{bucket}/") :]] = int(item.get("size", 0))
        return found

    def read(self, bucket: str, key: str) -> bytes:
        return self._run("cat", f"s3://{bucket}/{key}").encode()

    def download(self, bucket: str, pairs: Iterable[Tuple[str, Path]]) -> None:
        lines = [f'cp "s3://{bucket}/{key}" "{target}"\n' for key, target in pairs]
        with tempfile.NamedTemporaryFile("w", suffix=".s5cmd", delete=False) as commands:
            commands.writelines(lines)
        try:
            self._run("--numworkers", str(self.workers), "run", commands.name)
        finally:
            os.unlink(commands.name)


class Botocore:
    name = "botocore"

    def __init__(self, workers: int):
        import botocore.session
        from botocore.config import Config

        self.workers = workers
        self.client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            config=Config(
                max_pool_connections=workers, retries={"mode": "standard", "max_attempts": 10}
            ),
        )

    def _call(self, what: str, function, **arguments):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise S3AccessError(
                f"{what}: {code or error}", denied=code in ("AccessDenied", "403")
            ) from error
        except BotoCoreError as error:
            raise S3AccessError(f"{what}: {error}") from error

    def list(self, bucket: str, prefix: str) -> Dict[str, int]:
        found, token = {}, None
        while True:
            extra: Dict[str, str] = {"ContinuationToken": token} if token else {}
            page = self._call(
                f"ListObjectsV2 s3://{bucket}/{prefix}",
                self.client.list_objects_v2,
                Bucket=bucket,
                Prefix=prefix,
                **extra,
            )
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
            token = page.get("NextContinuationToken")
            if not token:
                return found

    def read(self, bucket: str, key: str) -> bytes:
        response = self._call(
            f"GetObject s3://{bucket}/{key}", self.client.get_object, Bucket=bucket, Key=key
        )
        return response["Body"].read()

    def download(self, bucket: str, pairs: Iterable[Tuple[str, Path]]) -> None:
        def fetch(pair: Tuple[str, Path]) -> None:
            key, target = pair
            body = self._call(
                f"GetObject s3://{bucket}/{key}", self.client.get_object, Bucket=bucket, Key=key
            )["Body"]
            partial = target.with_name(target.name + ".partial")
            with partial.open("wb") as handle:
                for block in iter(lambda: body.read(8 * 1024 * 1024), b""):
                    handle.write(block)
            os.replace(partial, target)

        pairs = list(pairs)
        with ThreadPoolExecutor(max(1, min(self.workers, len(pairs)))) as pool:
            list(pool.map(fetch, pairs))
