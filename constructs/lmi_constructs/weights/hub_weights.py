"""HubWeights: copy a Hugging Face repository into S3 during the deploy.

A custom resource on the CDK Provider framework: onEvent resolves the revision, lists and selects
the files and writes the manifest; isComplete (every 30 s, up to the hour CloudFormation allows)
fans out one worker Lambda per file, at most `max_parallel_workers` at a time, verifies every file
and writes the completion marker last. Their code (runtime/) needs only what the Lambda
Python runtime has, so the asset is the folder itself: no bundling, no Docker at synth.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct

from ..lambda_functions import lambda_function
from ..lambda_functions import provider as framework_provider
from ..runtime.copier.hub import COMMIT_SHA, DEFAULT_ENDPOINT
from ..runtime.copier.layout import CopyLayout, normalise_prefix
from ..runtime.copier.transfer import MIB, check_part_size
from ..runtime.settings import DispatchSettings, HubSettings
from ..security import nag
from ..spec import SpecError, Violation
from .s3_paths import check_grant_prefix

QUERY_INTERVAL = Duration.seconds(30)
TOTAL_TIMEOUT = Duration.hours(1)  # the most CloudFormation waits for a custom resource
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class HubWeights(Construct):
    """Weights of `repo_id` at `revision`, copied to s3://<bucket>/<prefix><repo_id>/<commit>/
    (<commit>-sel-<id>/ for a selection other than the one the copier made before it read the
    checkpoint's index: see runtime/copier/layout.py).

    Attributes (known at deploy time): s3_uri, key_prefix, commit_sha, file_count, total_bytes.
    Whatever reads `s3_uri` or `key_prefix` is created only after the copy is complete.

    Args:
        bucket: where the weights go; the functions may write only under prefix + repo_id.
        repo_id: the Hub repository, e.g. bigscience/bloom.
        revision: branch, tag or commit sha. Default "main" (resolved to a commit at each
            deploy); a pinned sha makes deploys reproducible and lets a rollback skip the Hub.
        allow_patterns: fnmatch patterns of the files to copy. Default: the files the engine
            loads, at the top level: the shards model.safetensors.index.json names (else the
            *.safetensors, else the .bin shards, else DeepSpeed's *.pt), never a second format
            of them (consolidated*, original/, gguf, onnx), plus config, tokenizer and chat
            template files.
        ignore_patterns: patterns removed from the selection. Default none.
        token_secret: a Secrets Manager secret with a Hub token (plain text or
            {"HF_TOKEN": ...}); the functions read it at run time. Default: no token.
        hub_endpoint: a mirror or private hub (http or https; a token is sent only over https
            or to loopback). Default https://huggingface.co.
        prefix: key prefix in the bucket. Default "hub".
        max_parallel_workers: worker Lambdas copying at once, 1..1000 (each is a concurrent
            Lambda execution of your account's quota). Default 32: one wave for OPT-30B (7
            files) and Llama 3.3 70B (30), two for the BloomStack's int8 BLOOM (33), three for
            BLOOM-176B in bf16 (72), each copy a few minutes (docs/copy-benchmark.md).
        part_size_mib: size of each ranged read and multipart part, within S3's multipart
            limits (5 MiB..5 GiB); a worker holds about two in memory. Default 64: the best
            of 8..128 MiB for a 5 GB shard at 40 MiB/s and 20-50 ms per request in the copy
            benchmark's model, which the benchmark checks (docs/copy-benchmark.md).
        removal_policy: RETAIN (default) keeps the copy when the resource goes; DESTROY deletes
            it on stack deletion or update clean-up, never in a rollback, and never while
            another copy or lmi stage-weights holds it.
        trust_remote_code: the model may run the repository's own Python code: its top-level
            *.py files are copied. Default False: *.py is never copied, and a repository whose
            config.json has auto_map (custom code) fails the deploy, before anything is copied,
            with what opting in means. Review the code at the pinned commit before passing True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        repo_id: str,
        revision: str = "main",
        allow_patterns: Optional[Sequence[str]] = None,
        ignore_patterns: Optional[Sequence[str]] = None,
        token_secret: Optional[secretsmanager.ISecret] = None,
        hub_endpoint: Optional[str] = None,
        prefix: str = "hub",
        max_parallel_workers: int = 32,
        part_size_mib: int = 64,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        trust_remote_code: bool = False,
    ):
        super().__init__(scope, id)
        _validate(
            repo_id,
            revision,
            hub_endpoint,
            max_parallel_workers,
            part_size_mib,
            removal_policy,
            token_secret is not None,
            prefix,
            trust_remote_code,
        )
        self.bucket, self.repo_id, self.revision = bucket, repo_id, revision
        prefix = normalise_prefix(prefix)
        repo_objects = bucket.arn_for_objects(f"{prefix}{repo_id}/*")
        environment = HubSettings(
            bucket=bucket.bucket_name,
            hub_endpoint=hub_endpoint or DEFAULT_ENDPOINT,
            token_secret_arn=token_secret.secret_arn if token_secret else None,  # not the token
        ).environment()

        worker_memory = max(512, 2 * part_size_mib + 256)  # two parts in flight, plus the runtime
        self.worker = lambda_function(
            self,
            "Worker",
            "hub_weights.worker",
            Duration.minutes(15),
            worker_memory,
            environment,
            "Copies one file from the Hub into S3",
        )
        self.on_event = lambda_function(
            self,
            "OnEvent",
            "hub_weights.on_event",
            Duration.minutes(5),
            512,
            environment,
            "Plans the copy: commit, files, manifest",
        )
        deadline = TOTAL_TIMEOUT.to_seconds() - 2 * QUERY_INTERVAL.to_seconds()
        self.is_complete = lambda_function(
            self,
            "IsComplete",
            "hub_weights.is_complete",
            Duration.minutes(5),
            512,
            {
                **environment,
                **DispatchSettings(
                    worker_function=self.worker.function_name,
                    max_parallel_workers=max_parallel_workers,
                    copy_deadline_s=deadline,
                ).environment(),
            },
            "Dispatches workers, verifies the copy, writes the completion marker",
        )

        # Least privilege: objects under this repository's prefix only; delete only for onEvent
        # (stale completion marker, removal_policy=DESTROY). Each function lists that prefix to
        # learn what exists: S3 answers 403, not 404, for a missing key without ListBucket.
        _allow(
            self.worker, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], repo_objects
        )
        _allow(self.is_complete, ["s3:GetObject", "s3:PutObject"], repo_objects)
        _allow(self.on_event, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], repo_objects)
        for function in (self.worker, self.is_complete, self.on_event):
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}{repo_id}/*"]}},
                )
            )
        if removal_policy == RemovalPolicy.DESTROY:
            # onEvent deletes a copy only when the stack is deleted or an update is cleaned up,
            # never in a rollback: it reads this stack's status to know which.
            self.on_event.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["cloudformation:DescribeStacks"], resources=[Aws.STACK_ID]
                )
            )
        self.worker.grant_invoke(self.is_complete)
        nag.acknowledge_wildcard_resource(
            nag.default_policy(self.is_complete),
            f"{self.worker.function_arn}:*",
            "CDK's grant_invoke covers the worker's versions and aliases; nothing else.",
        )
        for function in (self.worker, self.on_event, self.is_complete):
            if token_secret:
                token_secret.grant_read(function)
            if bucket.encryption_key:
                bucket.encryption_key.grant_encrypt_decrypt(function)
                nag.acknowledge_kms_grant_wildcards(function.role, nag.KMS_GRANT_REASON)
            nag.acknowledge_wildcard_resource(
                nag.default_policy(function),
                repo_objects,
                "The copier writes the files of the commit it resolves at deploy time; the "
                "wildcard stops at this repository's prefix.",
            )

        provider = framework_provider(
            self,
            "Provider",
            on_event_handler=self.on_event,
            is_complete_handler=self.is_complete,
            query_interval=QUERY_INTERVAL,
            total_timeout=TOTAL_TIMEOUT,
        )
        self.resource = CustomResource(
            self,
            "Copy",
            service_token=provider.service_token,
            resource_type="Custom::HubWeights",
            removal_policy=RemovalPolicy.RETAIN
            if removal_policy != RemovalPolicy.DESTROY
            else RemovalPolicy.DESTROY,
            properties={
                # Everything that decides where the weights land: a new bucket is an Update.
                "Bucket": bucket.bucket_name,
                "RepoId": repo_id,
                "Revision": revision,
                "Prefix": prefix,
                "AllowPatterns": list(allow_patterns or []),
                "IgnorePatterns": list(ignore_patterns or []),
                "PartSizeBytes": str(part_size_mib * MIB),
                "RemovalPolicy": "destroy" if removal_policy == RemovalPolicy.DESTROY else "retain",
                # only when given: templates without it stay as they were
                **({"TrustRemoteCode": "true"} if trust_remote_code else {}),
            },
        )
        self.s3_uri: str = self.resource.get_att_string("S3Uri")
        self.key_prefix: str = self.resource.get_att_string("KeyPrefix")
        self.commit_sha: str = self.resource.get_att_string("CommitSha")
        self.file_count: str = self.resource.get_att_string("FileCount")
        self.total_bytes: str = self.resource.get_att_string("TotalBytes")
        # A pinned commit is the prefix itself; a branch or tag is resolved at deploy.
        commit = revision if COMMIT_SHA.match(revision) else f"<commit of {revision}>"
        # The copy picks the folder from the repository's files (layout.py): <commit>/ while
        # they are what the pre-index rule chose, else <commit>-sel-<id>/. Synth has no file
        # listing, so the plan shows the choice; the KeyPrefix attribute is the exact one.
        folder = (
            f"{commit}-sel-<id>" if allow_patterns or ignore_patterns else f"{commit}[-sel-<id>]"
        )
        self.display_prefix = CopyLayout("-", prefix, repo_id, folder).base


def _allow(function: lambda_.Function, actions, resource: str) -> None:
    function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[resource]))


def _validate(
    repo_id,
    revision,
    hub_endpoint,
    max_parallel_workers,
    part_size_mib,
    removal_policy,
    has_token,
    prefix,
    trust_remote_code,
) -> None:
    problems = []
    if has_token and hub_endpoint and not hub_endpoint.startswith("https://"):
        problems.append(
            Violation(
                "hub_endpoint",
                hub_endpoint,
                "is not https:// and "
                "token_secret is given: the token would cross the network in "
                "clear",
                "use https://",
            )
        )
    try:
        check_grant_prefix(prefix, "prefix")
    except SpecError as error:
        problems += error.violations
    if not _REPO_ID.match(repo_id or ""):
        problems.append(
            Violation("repo_id", repo_id, "is not <owner>/<name>", "pass e.g. facebook/opt-30b")
        )
    if not revision or any(c.isspace() for c in revision):
        problems.append(
            Violation(
                "revision", revision, "is empty or has spaces", "pass a branch, tag or commit sha"
            )
        )
    if hub_endpoint and not re.match(r"^https?://[^/\s]+", hub_endpoint):
        problems.append(
            Violation(
                "hub_endpoint",
                hub_endpoint,
                "is not an http(s) URL",
                "pass e.g. https://hub.example.com",
            )
        )
    if not 1 <= max_parallel_workers <= 1000:
        problems.append(
            Violation(
                "max_parallel_workers",
                max_parallel_workers,
                "is outside 1..1000",
                "pass e.g. 32 (each is a concurrent Lambda execution)",
            )
        )
    try:
        check_part_size(part_size_mib * MIB)
    except ValueError as error:
        problems.append(Violation("part_size_mib", part_size_mib, str(error), "pass e.g. 64"))
    if removal_policy not in (RemovalPolicy.RETAIN, RemovalPolicy.DESTROY):
        problems.append(
            Violation(
                "removal_policy",
                removal_policy,
                "is not RETAIN or DESTROY",
                "pass RemovalPolicy.RETAIN",
            )
        )
    if not isinstance(trust_remote_code, bool):
        problems.append(
            Violation(
                "trust_remote_code",
                trust_remote_code,
                "is not True or False",
                "pass True after reviewing the repository's code, else leave it out",
            )
        )
    if problems:
        raise SpecError(problems, subject="HubWeights")
