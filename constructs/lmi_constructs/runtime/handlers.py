"""Lambda entry points of HubWeights: parse the event at the edge, call the shared copy code.

on_event / is_complete run under the CDK Provider framework; worker runs once per file, invoked
asynchronously by them. Configuration comes from the environment the construct sets:
  BUCKET, HF_ENDPOINT, HF_TOKEN_SECRET_ARN (optional), WORKER_FUNCTION, MAX_PARALLEL_WORKERS,
  COPY_DEADLINE_S.
The token is read from Secrets Manager at run time and never logged or returned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from typing import Any, Dict, Optional

import boto3
from botocore.config import Config

from .coordinator import (
    COMMIT_SHA,
    CopyRequest,
    completed_copy,
    copy_attributes,
    delete_copy,
    plan_copy,
    publish_complete,
    read_completed,
    read_manifest,
    register_holder,
    release_holder,
    same_files,
)
from .errors import (
    CopyError,
    CopyTimedOut,
    GatedRepository,
    HubUnavailable,
    RateLimited,
    RepositoryNotFound,
    RevisionNotFound,
)
from .fanout import advance
from .hub import HubClient, clean_token
from .layout import CONTROL_DIR
from .network_release import interfaces_in
from .prefix_check import check_prefix
from .s3_objects import NamedRefusals
from .scaling_guard import check_instance_type_change
from .transfer import DEFAULT_PART_SIZE, FileCopier
from .worker import run_worker

log = logging.getLogger()
log.setLevel(logging.INFO)
# botocore's DEBUG logs carry response bodies, GetSecretValue's included: never let them through.
logging.getLogger("botocore").setLevel(logging.WARNING)

_clients: Dict[str, Any] = {}


def on_event(event, context):
    started_at = time.time()  # CloudFormation's hour runs from about now, not from the manifest
    _log_event(event)
    props = event["ResourceProperties"]
    holder = _holder(event)
    if event["RequestType"] == "Delete":
        physical_id = event.get("PhysicalResourceId", "")
        if not physical_id.startswith("s3://"):  # a create that failed before planning
            return {"PhysicalResourceId": physical_id}
        bucket, base = physical_id[len("s3://") :].split("/", 1)
        others = release_holder(_s3(), bucket, base, holder)
        if props.get("RemovalPolicy") == "destroy":
            if others:
                log.info("keeping %s: %d other copies use it", physical_id, len(others))
            elif _copy_no_longer_needed(event):
                delete_copy(_s3(), bucket, base)
        return {"PhysicalResourceId": physical_id}
    request = _copy_request(props)
    if COMMIT_SHA.match(request.revision):  # a pinned commit already complete: no Hub at all
        done = completed_copy(_s3(), request)
        if done is not None:
            log.info("complete in S3 already: %s", done.layout.uri)
            return _answer(done, holder)
    try:
        manifest = plan_copy(_hub(), _s3(), request, started_at)
    except (
        HubUnavailable,
        RateLimited,
        GatedRepository,
        RepositoryNotFound,
        RevisionNotFound,
    ) as error:
        # A rollback sends the old properties again; their copy is complete in S3, and the Hub
        # (rate limits, a revoked token, a newly gated repository) must not block it.
        done = completed_copy(_s3(), request)
        if done is None:
            raise
        log.warning(
            "the Hub refused (%s); answering with the completed copy %s made for %s",
            error,
            done.layout.uri,
            request.revision,
        )
        return _answer(done, holder)
    # A new commit is a new physical id: CloudFormation then deletes the old one, which keeps its
    # weights unless removal_policy is DESTROY, so a rollback still finds them.
    return _answer(manifest, holder)


def _answer(manifest, holder: str) -> dict:
    register_holder(_s3(), manifest.layout, holder)
    return {"PhysicalResourceId": manifest.layout.uri, "Data": copy_attributes(manifest)}


def _holder(event) -> str:
    """This copy resource's name among the holders of a prefix: its stack and logical id."""
    identity = f"{event.get('StackId', '')}/{event.get('LogicalResourceId', '')}"
    return "stack-" + hashlib.sha256(identity.encode()).hexdigest()[:24]


# Stack states in which deleting a copy with removal_policy=DESTROY is what the user asked for:
# the stack is being deleted, or an update succeeded and the old commit is cleaned up. In the
# rollbacks (a failed create, a failed update) the copy is what the next deploy resumes from.
_DESTROY_STATES = ("DELETE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")


def _copy_no_longer_needed(event) -> bool:
    try:
        stack = _client("cloudformation").describe_stacks(StackName=event["StackId"])["Stacks"][0]
    except Exception as error:  # unsure: keep the weights, and say so
        log.warning("cannot read the stack's status (%s): keeping the copy", error)
        return False
    status = stack["StackStatus"]
    if status not in _DESTROY_STATES:
        log.info("stack is %s: keeping the copy for the next deploy to resume from", status)
    return status in _DESTROY_STATES


def is_complete(event, context):
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    bucket, base = event["PhysicalResourceId"][len("s3://") :].split("/", 1)
    manifest = read_manifest(_s3(), bucket, base + CONTROL_DIR + "manifest.json")
    completed = read_completed(_s3(), manifest.layout)
    if completed and same_files(completed, manifest):
        log.info("complete: %s", manifest.layout.uri)
        return {"IsComplete": True, "Data": copy_attributes(manifest)}

    copier = FileCopier(_hub(), _s3(), manifest)
    progress = advance(
        copier,
        _invoke_worker(bucket, manifest.layout.manifest_key),
        int(os.environ.get("MAX_PARALLEL_WORKERS", "32")),
        manifest.created_at,
    )
    log.info("progress %s: %s", manifest.layout.uri, progress.summary())
    if progress.complete:
        publish_complete(_s3(), manifest)
        return {"IsComplete": True, "Data": copy_attributes(manifest)}
    elapsed = time.time() - manifest.created_at
    if elapsed > _deadline_s():
        raise CopyTimedOut(
            f"timed out after {elapsed / 60:.0f} min with {progress.summary()}; "
            "deploy again to resume (verified files are kept and skipped)"
        )
    return {"IsComplete": False}


def _deadline_s() -> float:
    """HubWeights sets COPY_DEADLINE_S from the Provider framework's total timeout: the one
    source, so the copy gives up before CloudFormation does."""
    try:
        return float(os.environ["COPY_DEADLINE_S"])
    except KeyError:
        raise RuntimeError(
            "COPY_DEADLINE_S is not set: the isComplete function needs the "
            "deadline HubWeights gives it"
        ) from None


def worker(event, context):
    """Copy manifest entry event["index"] (attempt event["attempt"]); report through its status."""
    manifest = read_manifest(_s3(), event["bucket"], event["manifest_key"])
    try:
        outcome = run_worker(
            FileCopier(_hub(), _s3(), manifest), int(event["index"]), int(event["attempt"])
        )
    except CopyError as error:  # permanent and recorded for isComplete: no Lambda retry
        log.error("copy failed: %s", error)
        return
    if outcome:
        log.info(
            json.dumps(
                {
                    "file": outcome.path,
                    "action": outcome.action,
                    "bytes_downloaded": outcome.bytes_downloaded,
                }
            )
        )


def check_weights(event, context):
    """WeightsCheck's onEvent: fail the deploy when the prefix holds no (complete) weights."""
    _log_event(event)
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    props = event["ResourceProperties"]
    count, size = check_prefix(_s3(), props["Bucket"], props["Prefix"])
    log.info(
        "%d files, %.2f GB under s3://%s/%s", count, size / 1e9, props["Bucket"], props["Prefix"]
    )
    return {
        "PhysicalResourceId": f"s3://{props['Bucket']}/{props['Prefix']}",
        "Data": {"FileCount": str(count), "TotalBytes": str(size)},
    }


def guard_instance_type(event, context):
    """ScalingGuard's onEvent: fail fast on an instance type change of an autoscaled variant."""
    _log_event(event)
    check_instance_type_change(event)
    return {
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or f"scaling-guard-{event['ResourceProperties']['Endpoint']}"
    }


def network_release_started(event, context):
    """NetworkRelease's onEvent: nothing to do but name the resource."""
    _log_event(event)
    return {
        "PhysicalResourceId": event.get("PhysicalResourceId")
        or f"network-release-{event['ResourceProperties']['SecurityGroupId']}"
    }


def network_released(event, context):
    """NetworkRelease's isComplete: on Delete, done once no interface uses the group."""
    if event["RequestType"] != "Delete":
        return {"IsComplete": True}
    group = event["ResourceProperties"]["SecurityGroupId"]
    left = interfaces_in(_client("ec2"), group)
    log.info("%d network interface(s) still in %s", left, group)
    return {"IsComplete": left == 0}


def _copy_request(props) -> CopyRequest:
    return CopyRequest(
        repo_id=props["RepoId"],
        revision=props.get("Revision", "main"),
        bucket=props.get("Bucket") or os.environ["BUCKET"],
        prefix=props.get("Prefix", ""),
        allow_patterns=props.get("AllowPatterns") or None,
        ignore_patterns=props.get("IgnorePatterns") or None,
        part_size=int(props.get("PartSizeBytes", DEFAULT_PART_SIZE)),
    )


def _invoke_worker(bucket: str, manifest_key: str):
    def dispatch(index: int, attempt: int) -> None:
        payload = {
            "bucket": bucket,
            "manifest_key": manifest_key,
            "index": index,
            "attempt": attempt,
        }
        _client("lambda").invoke(
            FunctionName=os.environ["WORKER_FUNCTION"],
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )

    return dispatch


def _hub() -> HubClient:
    return HubClient(endpoint=os.environ.get("HF_ENDPOINT"), token=_token())


def _token() -> Optional[str]:
    secret_arn = os.environ.get("HF_TOKEN_SECRET_ARN")
    if not secret_arn:
        return None
    if "token" not in _clients:
        secret = _client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
        _clients["token"] = _token_from_secret(secret)
    return _clients["token"]


def _token_from_secret(secret: str) -> Optional[str]:
    """A plain-text secret, or JSON with an HF_TOKEN or token key."""
    try:
        data = json.loads(secret)
    except ValueError:
        return clean_token(secret)
    if isinstance(data, dict):
        for key in ("HF_TOKEN", "token"):
            if key in data:
                return clean_token(str(data[key]))
    raise CopyError(
        "the token secret is JSON without an HF_TOKEN or token key: store the "
        'token as plain text or as {"HF_TOKEN": "hf_..."}'
    )


def _s3():
    """S3 with refusals named (action and resource) rather than taken for missing objects."""
    if "named-s3" not in _clients:
        _clients["named-s3"] = NamedRefusals(_client("s3"))
    return _clients["named-s3"]


def _client(name: str):
    if name not in _clients:
        _clients[name] = boto3.client(
            name,
            config=Config(
                retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32
            ),
        )
    return _clients[name]


def _log_event(event) -> None:
    """The request's identifiers only: properties may name a secret, never log more than this."""
    log.info(
        json.dumps(
            {
                key: event.get(key)
                for key in ("RequestType", "RequestId", "LogicalResourceId", "PhysicalResourceId")
            }
        )
    )
