"""HubWeights' Lambda entry points: parse the event and the settings at the edge, call the copier.

on_event / is_complete run under the CDK Provider framework; worker runs once per file, invoked
asynchronously by isComplete. Settings come from the environment HubWeights sets (settings.py).
The token is read from Secrets Manager at run time and never logged or returned.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Optional

from . import aws_clients
from .aws_clients import log, log_event
from .copier.coordinator import (
    COMMIT_SHA,
    CopyRequest,
    completed_copy,
    copy_attributes,
    delete_copy,
    is_published,
    plan_copy,
    publish_complete,
    read_manifest,
    register_holder,
    release_holder,
)
from .copier.fanout import advance
from .copier.hub import HubClient, clean_token
from .copier.layout import CONTROL_DIR
from .copier.transfer import DEFAULT_PART_SIZE, FileCopier
from .copier.worker import run_worker
from .errors import (
    CopyError,
    CopyTimedOut,
    GatedRepository,
    HubUnavailable,
    RateLimited,
    RepositoryNotFound,
    RevisionNotFound,
)
from .settings import DispatchSettings, HubSettings

# What the Hub may answer while the copy a rollback asks for is complete in S3 already.
_HUB_REFUSALS = (HubUnavailable, RateLimited, GatedRepository, RepositoryNotFound, RevisionNotFound)


def on_event(event, context):
    started_at = time.time()  # CloudFormation's hour runs from about now, not from the manifest
    log_event(event)
    settings = HubSettings.from_environment(os.environ)
    props = event["ResourceProperties"]
    holder = _holder(event)
    if event["RequestType"] == "Delete":
        physical_id = event.get("PhysicalResourceId", "")
        if not physical_id.startswith("s3://"):  # a create that failed before planning
            return {"PhysicalResourceId": physical_id}
        bucket, base = physical_id[len("s3://") :].split("/", 1)
        others = release_holder(aws_clients.s3(), bucket, base, holder)
        if props.get("RemovalPolicy") == "destroy":
            if others:
                log.info("keeping %s: %d other copies use it", physical_id, len(others))
            elif _copy_no_longer_needed(event):
                delete_copy(aws_clients.s3(), bucket, base)
        return {"PhysicalResourceId": physical_id}
    request = _copy_request(props, settings)
    if COMMIT_SHA.match(request.revision):  # a pinned commit already complete: no Hub at all
        done = completed_copy(aws_clients.s3(), request)
        if done is not None:
            log.info("complete in S3 already: %s", done.layout.uri)
            return _answer(done, holder)
    try:
        manifest = plan_copy(_hub(settings), aws_clients.s3(), request, started_at)
    except _HUB_REFUSALS as error:
        # A rollback sends the old properties again; their copy is complete in S3, and the Hub
        # (rate limits, a revoked token, a newly gated repository) must not block it.
        done = completed_copy(aws_clients.s3(), request, hub_refused=True)
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


def is_complete(event, context):
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    settings = HubSettings.from_environment(os.environ)
    dispatch = DispatchSettings.from_environment(os.environ)
    bucket, base = event["PhysicalResourceId"][len("s3://") :].split("/", 1)
    manifest = read_manifest(aws_clients.s3(), bucket, base + CONTROL_DIR + "manifest.json")
    if is_published(aws_clients.s3(), manifest):
        log.info("complete: %s", manifest.layout.uri)
        return {"IsComplete": True, "Data": copy_attributes(manifest)}

    copier = FileCopier(_hub(settings), aws_clients.s3(), manifest)
    progress = advance(
        copier,
        _invoke_worker(dispatch.worker_function, bucket, manifest.layout.manifest_key),
        dispatch.max_parallel_workers,
        manifest.created_at,
    )
    log.info("progress %s: %s", manifest.layout.uri, progress.summary())
    if progress.complete:
        publish_complete(aws_clients.s3(), manifest)
        return {"IsComplete": True, "Data": copy_attributes(manifest)}
    elapsed = time.time() - manifest.created_at
    if elapsed > dispatch.copy_deadline_s:
        raise CopyTimedOut(
            f"timed out after {elapsed / 60:.0f} min with {progress.summary()}; "
            "deploy again to resume (verified files are kept and skipped)",
            repo_id=manifest.repo_id,
            revision=manifest.commit,
        )
    return {"IsComplete": False}


def worker(event, context):
    """Copy manifest entry event["index"] (attempt event["attempt"]); report through its status."""
    settings = HubSettings.from_environment(os.environ)
    manifest = read_manifest(aws_clients.s3(), event["bucket"], event["manifest_key"])
    try:
        outcome = run_worker(
            FileCopier(_hub(settings), aws_clients.s3(), manifest),
            int(event["index"]),
            int(event["attempt"]),
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


def _answer(manifest, holder: str) -> dict:
    register_holder(aws_clients.s3(), manifest.layout, holder)
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
        stacks = aws_clients.client("cloudformation").describe_stacks(StackName=event["StackId"])
        status = stacks["Stacks"][0]["StackStatus"]
    except Exception as error:  # unsure: keep the weights, and say so
        log.warning("cannot read the stack's status (%s): keeping the copy", error)
        return False
    if status not in _DESTROY_STATES:
        log.info("stack is %s: keeping the copy for the next deploy to resume from", status)
    return status in _DESTROY_STATES


def _copy_request(props, settings: HubSettings) -> CopyRequest:
    return CopyRequest(
        repo_id=props["RepoId"],
        revision=props.get("Revision", "main"),
        bucket=props.get("Bucket") or settings.bucket,
        prefix=props.get("Prefix", ""),
        allow_patterns=props.get("AllowPatterns") or None,
        ignore_patterns=props.get("IgnorePatterns") or None,
        part_size=int(props.get("PartSizeBytes", DEFAULT_PART_SIZE)),
        trust_remote_code=_flag(props, "TrustRemoteCode"),
    )


def _flag(props, name: str) -> bool:
    """A boolean property as CloudFormation passes it: "true" or "false" (absent: false)."""
    value = str(props.get(name, "false")).strip().lower()
    if value not in ("true", "false"):
        raise CopyError(f'{name}={props.get(name)!r} is not "true" or "false"')
    return value == "true"


def _invoke_worker(function_name: str, bucket: str, manifest_key: str):
    def dispatch(index: int, attempt: int) -> None:
        payload = {
            "bucket": bucket,
            "manifest_key": manifest_key,
            "index": index,
            "attempt": attempt,
        }
        aws_clients.client("lambda").invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode(),
        )

    return dispatch


def _hub(settings: HubSettings) -> HubClient:
    return HubClient(endpoint=settings.hub_endpoint, token=_token(settings.token_secret_arn))


def _token(secret_arn: Optional[str]) -> Optional[str]:
    if not secret_arn:
        return None
    if "token" not in aws_clients.CLIENTS:
        secret = aws_clients.client("secretsmanager").get_secret_value(SecretId=secret_arn)
        aws_clients.CLIENTS["token"] = token_from_secret(secret["SecretString"])
    return aws_clients.CLIENTS["token"]


def token_from_secret(secret: str) -> Optional[str]:
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
