"""The deploy rehearsal: BloomStack's and OptStack's weights copy, and the endpoint's own download,
run from the synthesized assets under exactly the synthesized IAM policies (tests/support/
cfn_rehearsal.py, s3_gate.py), through the events CloudFormation sends: a Create that fails, the
rollback's Delete, the re-deploy that resumes, the endpoint's download, an Update to a new
commit and the cleanup of the old one, an Update with the same properties, and the Delete.
Removing any permission a step needs from a synthesized policy changes the outcome."""

from __future__ import annotations

import logging
import os
import random
import uuid

import pytest

from tests.support.cfn_rehearsal import CopyRehearsal, copy_properties, physical_values
from tests.support.hub_emulator import HubBlob, HubEmulator, SyntheticContent
from tests.support.iam import Resolver, role_policy
from tests.support.s3_gate import S3Gate

from .template_queries import logical_id

MIB = 1024 * 1024
ADMIN = "AKIAREHEARSALADMIN00"


def _blob(rng, size, lfs=True):
    return HubBlob(rng.randbytes(size), lfs=lfs)


def repository(stack: str, version: int = 0):
    """Files shaped like the repository the stack copies; one shard is larger than the 64 MiB
    part size, so its copy is a multipart upload. `version` changes one small shard."""
    rng = random.Random(7)
    large = HubBlob(SyntheticContent(70 * MIB, seed=11))
    changed = _blob(random.Random(100 + version), 200_000)
    if stack == "BloomStack":  # microsoft/bloom-deepspeed-inference-int8: pre-sharded .pt
        return {
            "ds_inference_config.json": HubBlob(
                b'{"type": "BLOOM", "checkpoints": {"non_tp": '
                b'["non-tp.pt"], "tp": ["tp_00_00.pt", '
                b'"tp_00_01.pt"]}, "dtype": "int8"}',
                lfs=False,
            ),
            "config.json": HubBlob(b'{"model_type": "bloom", "n_head": 112}', lfs=False),
            "tokenizer_config.json": HubBlob(b'{"padding_side": "left"}', lfs=False),
            "tokenizer.json": _blob(rng, 100_000),
            "non-tp.pt": _blob(rng, 150_000),
            "tp_00_00.pt": large,
            "tp_00_01.pt": changed,
            "README.md": HubBlob(b"# BLOOM int8", lfs=False),
        }
    return {  # facebook/opt-30b: sharded .bin, flax and TF shards beside them
        "config.json": HubBlob(b'{"model_type": "opt", "num_attention_heads": 56}', lfs=False),
        "pytorch_model.bin.index.json": HubBlob(b'{"weight_map": {}}', lfs=False),
        "pytorch_model-00001-of-00002.bin": large,
        "pytorch_model-00002-of-00002.bin": changed,
        "vocab.json": HubBlob(b'{"a": 0}', lfs=False),
        "merges.txt": HubBlob(b"#version: 0.2\na b\n", lfs=False),
        "flax_model.msgpack": _blob(rng, 50_000),
        "tf_model.h5": _blob(rng, 50_000),
    }


def large_file(stack):
    return "tp_00_00.pt" if stack == "BloomStack" else "pytorch_model-00001-of-00002.bin"


def changed_file(stack):
    return "tp_00_01.pt" if stack == "BloomStack" else "pytorch_model-00002-of-00002.bin"


@pytest.fixture
def world(s3, s3_endpoint):
    """A fresh bucket (LmiWeights' bucket, deployed), the Hub emulation, the policy gate."""
    bucket = f"lmi-weights-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    with HubEmulator(page_size=4) as hub, S3Gate(upstream=s3_endpoint, admin_keys={ADMIN}) as gate:
        yield {"bucket": bucket, "hub": hub, "gate": gate, "s3": s3}


def rehearsal_for(reference_assembly, stack, world, without=None):
    template = reference_assembly.get_stack_by_name(stack).template
    resolver = physical_values(template, stack, world["bucket"])
    rehearsal = CopyRehearsal(
        __import__("pathlib").Path(reference_assembly.directory),
        template,
        resolver,
        world["gate"],
        world["hub"].endpoint,
        without,
    )
    return rehearsal, copy_properties(template, resolver), template, resolver


def keys(s3, bucket, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"][len(prefix) :] for page in pages for item in page.get("Contents", []))


def weights_under(s3, bucket, prefix):
    return [k for k in keys(s3, bucket, prefix) if not k.startswith(".lmi/")]


def narrower_patterns(stack):
    if stack == "BloomStack":
        return ["*.pt", "config.json", "ds_inference_config.json"]
    return ["*.bin", "config.json", "pytorch_model.bin.index.json"]


def rehearsal_steps(rehearsal, properties, world, stack, repo_id):
    """The whole sequence, one step at a time: yields (step, record) with the outcome, the bytes
    fetched from the Hub's CDN, and the keys in the bucket after it."""
    hub, s3, bucket = world["hub"], world["s3"], world["bucket"]
    commit_a = hub.add_repo(repo_id, repository(stack))
    hub.faults.corrupt_paths = {large_file(stack)}

    def step(name, run):
        before = hub.faults.cdn_bytes
        outcome = run()
        return name, {
            "outcome": outcome,
            "cdn_bytes": hub.faults.cdn_bytes - before,
            "keys": keys(s3, bucket, f"hub/{repo_id}/"),
            "commit_a": commit_a,
        }

    name, failed = step("create", lambda: rehearsal.create(properties))
    yield name, failed
    # CloudFormation rolls the failed create back: Delete with the id onEvent returned
    yield step("rollback", lambda: rehearsal.delete(properties, failed["outcome"].physical_id))
    hub.faults.corrupt_paths = set()
    name, created = step("redeploy", lambda: rehearsal.create(properties))
    yield name, created
    commit_b = hub.add_repo(repo_id, repository(stack, version=1))
    pinned = {**properties, "Revision": commit_b}
    name, updated = step(
        "update", lambda: rehearsal.update(pinned, properties, created["outcome"].physical_id)
    )
    updated["commit_b"] = commit_b
    yield name, updated
    # the update succeeded: CloudFormation deletes the old physical resource in its cleanup
    yield step("cleanup", lambda: rehearsal.delete(properties, created["outcome"].physical_id))
    physical_b = updated["outcome"].physical_id
    yield step("same", lambda: rehearsal.update(pinned, pinned, physical_b))
    narrower = {**pinned, "AllowPatterns": narrower_patterns(stack)}
    yield step("patterns", lambda: rehearsal.update(narrower, pinned, physical_b))
    yield step("delete", lambda: rehearsal.delete(narrower, physical_b))


def rehearse(rehearsal, properties, world, stack, repo_id):
    return dict(rehearsal_steps(rehearsal, properties, world, stack, repo_id))


REPOS = {"BloomStack": "microsoft/bloom-deepspeed-inference-int8", "OptStack": "facebook/opt-30b"}


@pytest.mark.parametrize("stack", sorted(REPOS))
def test_the_copy_survives_the_deploy_lifecycle_under_its_own_policies(
    reference_assembly, world, stack
):
    rehearsal, properties, _, _ = rehearsal_for(reference_assembly, stack, world)
    steps = rehearse(rehearsal, properties, world, stack, REPOS[stack])
    commit_a, commit_b = steps["create"]["commit_a"], steps["update"]["commit_b"]
    s3, bucket, files = world["s3"], world["bucket"], repository(stack)
    base_a, base_b = f"hub/{REPOS[stack]}/{commit_a}/", f"hub/{REPOS[stack]}/{commit_b}/"
    large, changed = large_file(stack), changed_file(stack)

    failed = steps["create"]["outcome"]
    assert failed.status == "FAILED"
    assert f"checksum mismatch for {large}: expected sha256" in failed.reason
    assert "nothing published as complete" in failed.reason
    # the rollback keeps what was verified: every other file is there, no completion marker
    assert steps["rollback"]["outcome"].status == "SUCCESS"
    expected = sorted(p for p in files if not p.endswith((".md", ".msgpack", ".h5")))
    after_rollback = steps["rollback"]["keys"]
    assert [k for k in after_rollback if "/.lmi/" not in k] == [
        f"{commit_a}/{p}" for p in sorted(set(expected) - {large})
    ]
    assert f"{commit_a}/.lmi/complete.json" not in after_rollback

    # the re-deploy fetches from the Hub only the file that failed
    redeploy = steps["redeploy"]
    assert redeploy["outcome"].status == "SUCCESS", redeploy["outcome"]
    assert redeploy["cdn_bytes"] == files[large].size
    assert redeploy["outcome"].data["KeyPrefix"] == base_a
    assert redeploy["outcome"].physical_id == f"s3://{bucket}/{base_a}"

    # a new commit: only the changed shard comes from the Hub, the rest is copied inside S3
    update = steps["update"]
    assert update["outcome"].status == "SUCCESS", update["outcome"]
    assert update["cdn_bytes"] == repository(stack, version=1)[changed].size
    assert update["outcome"].physical_id == f"s3://{bucket}/{base_b}"
    assert weights_under(s3, bucket, base_b) == expected
    # the cleanup's Delete of the old commit keeps it (RETAIN): a rollback still finds it
    assert steps["cleanup"]["outcome"].status == "SUCCESS"
    assert f"{commit_a}/.lmi/complete.json" in steps["cleanup"]["keys"]
    same = steps["same"]
    assert (same["outcome"].status, same["cdn_bytes"]) == ("SUCCESS", 0)
    assert same["outcome"].physical_id == update["outcome"].physical_id
    # new allow_patterns at the same commit: the old marker no longer vouches for the set
    patterns = steps["patterns"]
    assert (patterns["outcome"].status, patterns["cdn_bytes"]) == ("SUCCESS", 0)
    assert steps["delete"]["outcome"].status == "SUCCESS"
    assert weights_under(s3, bucket, base_b) == expected
    # no request was refused along the way
    assert world["gate"].refusals == []


def test_the_endpoint_downloads_the_copy_under_the_execution_role(
    reference_assembly, world, monkeypatch, tmp_path
):
    """The handler's own download (model_code/lmi_handler) with the SageMaker execution role's
    synthesized policy, from the prefix the copy reported, with botocore and with s5cmd."""
    import sys

    from tests.support.s3_server import s5cmd_binary

    rehearsal, properties, template, resolver = rehearsal_for(
        reference_assembly, "BloomStack", world
    )
    world["hub"].add_repo(REPOS["BloomStack"], repository("BloomStack"))
    created = rehearsal.create(properties)
    assert created.status == "SUCCESS", created
    policy = execution_role_policy(template, resolver, created.data["KeyPrefix"])
    key_id = world["gate"].identity("ExecutionRole", policy)
    sys.path.insert(0, str(reference_assembly_root() / "model_code"))
    from lmi_handler.config import HandlerConfig
    from lmi_handler.weights import ensure_downloaded

    monkeypatch.setenv("AWS_ENDPOINT_URL", world["gate"].endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "rehearsal")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for tool in (s5cmd_binary(), ""):
        config = HandlerConfig.from_properties(
            {
                "backend": "cpu",
                "weights_dir": str(tmp_path / (tool and "s5cmd" or "botocore")),
                "s5cmd": tool,
            },
            env={"MODEL_S3_BUCKET": world["bucket"], "MODEL_S3_PREFIX": created.data["KeyPrefix"]},
        )
        assert ensure_downloaded(config) is True
        local = sorted(
            p.name
            for p in __import__("pathlib").Path(config.weights_dir).iterdir()
            if not p.name.startswith(".lmi")
        )
        assert local == weights_under(world["s3"], world["bucket"], created.data["KeyPrefix"])
    assert world["gate"].refusals == []


def reference_assembly_root():
    from .conftest import ROOT

    return ROOT


def execution_role_policy(template, resolver, key_prefix):
    """The SageMaker execution role's statements, with the copy's KeyPrefix as deployed."""
    attributes = {
        **resolver.attributes,
        (logical_id(template, "Custom::HubWeights"), "KeyPrefix"): key_prefix,
    }
    resolved = Resolver(template, resolver.refs, attributes, resolver.imports)
    role = next(
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and k.startswith("EndpointExecutionRole")
    )
    return role_policy(template, role, resolved)


# Every permission the copier's roles hold, and the step that needs it. The logs: actions are
# the Lambda runtime's (it writes the functions' logs), not the copy code's.
RUNTIME_ONLY = {"logs:CreateLogStream", "logs:PutLogEvents"}
NEEDED = [
    ("OnEvent", "s3:ListBucket"),
    ("OnEvent", "s3:PutObject"),
    ("OnEvent", "s3:GetObject"),  # the update reads the old commit's marker to reuse
    ("OnEvent", "s3:DeleteObject"),  # new allow_patterns: the stale marker goes
    ("IsComplete", "s3:ListBucket"),
    ("IsComplete", "s3:GetObject"),
    ("IsComplete", "s3:PutObject"),
    ("IsComplete", "lambda:InvokeFunction"),
    ("Worker", "s3:ListBucket"),
    ("Worker", "s3:GetObject"),
    ("Worker", "s3:PutObject"),
    ("Worker", "s3:AbortMultipartUpload"),
]  # the corrupted multipart copy is aborted
# what each step does with every permission in place
BASELINE = {
    "create": ("FAILED", "checksum mismatch"),
    "rollback": ("SUCCESS", ""),
    "redeploy": ("SUCCESS", ""),
    "update": ("SUCCESS", ""),
    "cleanup": ("SUCCESS", ""),
    "same": ("SUCCESS", ""),
    "patterns": ("SUCCESS", ""),
    "delete": ("SUCCESS", ""),
}


def test_the_removal_list_covers_every_synthesized_permission(reference_assembly, world):
    rehearsal, _, _, _ = rehearsal_for(reference_assembly, "BloomStack", world)
    held = {
        (name, action)
        for name, policy in rehearsal.policies.items()
        for action in policy.actions()
        if action not in RUNTIME_ONLY
    }
    assert held == set(NEEDED)


@pytest.mark.parametrize("function, action", NEEDED)
def test_removing_a_needed_permission_changes_the_deploy(
    reference_assembly, world, caplog, function, action
):
    rehearsal, properties, _, _ = rehearsal_for(
        reference_assembly, "BloomStack", world, without=(function, action)
    )
    with caplog.at_level(logging.INFO):
        for name, record in rehearsal_steps(
            rehearsal, properties, world, "BloomStack", REPOS["BloomStack"]
        ):
            status, marker = BASELINE[name]
            outcome = record["outcome"]
            if outcome.status != status or marker not in outcome.reason:
                break
        else:
            pytest.fail(f"every step behaved as it does with {function}'s {action}")
    # the refusal is named where an operator looks: the CloudFormation reason or the log
    assert action in outcome.reason or action in caplog.text, (name, outcome)
    assert (
        action in {refusal.action for refusal in world["gate"].refusals}
        or action == "lambda:InvokeFunction"
    )


def test_s3_answers_403_for_a_missing_key_without_list_bucket(world):
    """The gate reproduces S3's rule, and it is what broke the old copier: isComplete read the
    completion marker with GetObject and took only 404 for "absent"."""
    import boto3
    from botocore.exceptions import ClientError

    from tests.support.iam import Policy

    gate, bucket = world["gate"], world["bucket"]
    objects = f"arn:aws:s3:::{bucket}/hub/*"
    get_only = Policy([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects}])
    prefixed = Policy(
        get_only.statements
        + [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": ["hub/*"]}},
            }
        ]
    )
    listing = Policy(
        get_only.statements
        + [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]
    )

    def status(policy, call, **params):
        client = boto3.client(
            "s3",
            endpoint_url=gate.endpoint,
            region_name="us-east-1",
            aws_access_key_id=gate.identity("probe", policy),
            aws_secret_access_key="x",
            aws_session_token=None,
        )
        try:
            getattr(client, call)(Bucket=bucket, **params)
            return 200
        except ClientError as error:
            return error.response["ResponseMetadata"]["HTTPStatusCode"]

    missing = {"Key": "hub/org/repo/abc/.lmi/complete.json"}
    assert status(get_only, "get_object", **missing) == 403
    assert status(get_only, "head_object", **missing) == 403
    assert status(prefixed, "get_object", **missing) == 403  # a prefix-scoped grant does not count
    assert status(listing, "get_object", **missing) == 404
    assert status(prefixed, "list_objects_v2", Prefix="hub/org/") == 200
    assert status(prefixed, "list_objects_v2", Prefix="other/") == 403
    assert status(prefixed, "list_objects_v2") == 403  # the whole bucket
    assert [r.missing_key for r in gate.refusals] == [True, True, True, False, False]


@pytest.fixture(scope="module")
def staged_assembly(tmp_path_factory):
    """BloomStack with pre-staged weights: a WeightsCheck instead of the copy."""
    from app import build_app

    from .conftest import cdk_json_context

    context = {**cdk_json_context(), "BloomStack:weightsUri": "s3://staged-weights/bloom/int8/"}
    return build_app(outdir=str(tmp_path_factory.mktemp("staged.out")), context=context).synth()


def check_of(staged_assembly, world, prefix, without=None):
    """The WeightsCheck function as deployed for `prefix` in the world's bucket."""
    from pathlib import Path

    from tests.support.cfn_rehearsal import Clock, load_function

    template = staged_assembly.get_stack_by_name("BloomStack").template
    # the staged bucket stands for the test's bucket; the prefix for the one under test
    resolver = physical_values(template, "BloomStack", world["bucket"])
    text = __import__("json").dumps(template).replace("staged-weights", world["bucket"])
    template = __import__("json").loads(text.replace("bloom/int8/", prefix))
    function, _ = load_function(
        Path(staged_assembly.directory),
        template,
        resolver,
        world["gate"],
        "weights_check.on_event",
        Clock(),
        without=without,
    )
    [check] = [r for r in template["Resources"].values() if r["Type"] == "Custom::LmiWeightsCheck"]
    properties = {k: v for k, v in check["Properties"].items() if k != "ServiceToken"}
    return function, properties


def run_check(function, properties):
    from tests.support.cfn_rehearsal import Outcome

    try:
        answer = function(
            {
                "RequestType": "Create",
                "ResourceProperties": properties,
                "RequestId": "1",
                "LogicalResourceId": "WeightsCheck",
            }
        )
    except Exception as error:
        return Outcome("FAILED", reason=f"{type(error).__name__}: {error}")
    return Outcome("SUCCESS", answer["PhysicalResourceId"], answer.get("Data", {}))


def test_weights_check_under_its_own_policy(staged_assembly, world):
    from lmi_constructs.cli.main import main

    s3, bucket, hub = world["s3"], world["bucket"], world["hub"]
    commit = hub.add_repo(REPOS["BloomStack"], repository("BloomStack", version=2))
    os.environ["HF_ENDPOINT"] = hub.endpoint
    try:
        assert (
            main(
                [
                    "stage-weights",
                    "--repo-id",
                    REPOS["BloomStack"],
                    "--dest",
                    f"s3://{bucket}/staged",
                ]
            )
            == 0
        )
    finally:
        os.environ.pop("HF_ENDPOINT")
    staged = f"staged/{REPOS['BloomStack']}/{commit}/"
    done = run_check(*check_of(staged_assembly, world, staged))
    assert done.status == "SUCCESS", done
    assert done.data["FileCount"] == str(len(weights_under(s3, bucket, staged)))

    empty = run_check(*check_of(staged_assembly, world, "nothing/here/"))
    assert empty.status == "FAILED"
    assert f"no weights under s3://{bucket}/nothing/here/" in empty.reason

    s3.delete_object(Bucket=bucket, Key=f"{staged}.lmi/complete.json")  # an unfinished copy
    unfinished = run_check(*check_of(staged_assembly, world, staged))
    assert "is incomplete (a manifest without its completion marker)" in unfinished.reason

    denied = run_check(*check_of(staged_assembly, world, staged, without="s3:ListBucket"))
    assert denied.status == "FAILED"
    assert f"S3 denied s3:ListBucket on arn:aws:s3:::{bucket} (prefix '{staged}')" in denied.reason
    assert world["gate"].refusals[-1].action == "s3:ListBucket"


def test_the_copys_deadline_counts_from_the_request_not_from_the_manifest(
    reference_assembly, world
):
    """A slow Hub listing (10 minutes here) is part of CloudFormation's hour: a copy that is alive
    but too slow must give up, with its progress, before the Provider's own timeout does."""
    import importlib

    rehearsal, properties, _, _ = rehearsal_for(reference_assembly, "BloomStack", world)
    world["hub"].add_repo(REPOS["BloomStack"], repository("BloomStack"))
    package = rehearsal.functions["OnEvent"].package
    hub_module = importlib.import_module(f"{package}.copier.hub")
    slow_listing = hub_module.HubClient.list_files

    def list_files(self, *args):
        rehearsal.clock.advance(600)
        return slow_listing(self, *args)

    hub_module.HubClient.list_files = list_files
    # workers that stay alive (a heartbeat every poll) and never finish: a slow link
    worker = rehearsal.functions["Worker"]
    status = importlib.import_module(f"{worker.package}.copier.status")
    s3 = importlib.import_module(f"{worker.package}.aws_clients").s3
    alive = {}

    def heartbeat():
        alive.update({p["index"]: p for p in rehearsal.lambda_service.queue})
        rehearsal.lambda_service.queue = []
        manifest = worker.module.read_manifest(
            s3(), world["bucket"], next(iter(alive.values()))["manifest_key"]
        )
        for index, payload in alive.items():
            status.write_status(
                s3(),
                manifest.layout,
                index,
                status.WorkerStatus(status.RUNNING, payload["attempt"]),
            )

    rehearsal._run_workers = heartbeat
    asked_at = rehearsal.clock.time()
    slow = rehearsal.create(properties)
    assert slow.status == "FAILED"
    assert (
        slow.reason.startswith("CopyTimedOut: timed out after ") and "with 0/7 files" in slow.reason
    )
    assert "deploy again to resume" in slow.reason
    assert rehearsal.clock.time() - asked_at < 3600  # before the Provider's "Operation timed out"


def test_a_rollback_is_answered_from_s3_without_the_hub(reference_assembly, world):
    """UPDATE_ROLLBACK sends the old properties again. Their copy is complete in S3: a pinned
    commit needs no Hub call at all, and an unpinned branch falls back to its completed copy
    when the Hub refuses (here the repository became gated and the stack has no token)."""
    rehearsal, properties, _, _ = rehearsal_for(reference_assembly, "BloomStack", world)
    hub, repo = world["hub"], REPOS["BloomStack"]
    commit_a = hub.add_repo(repo, repository("BloomStack"))
    branch = rehearsal.create(properties)  # revision "main", resolved to commit A
    pinned_a = {**properties, "Revision": commit_a}
    commit_b = hub.add_repo(repo, repository("BloomStack", version=1))
    pinned_b = {**properties, "Revision": commit_b}
    updated = rehearsal.update(pinned_b, properties, branch.physical_id)
    assert (branch.status, updated.status) == ("SUCCESS", "SUCCESS")

    calls = (hub.faults.api_calls, hub.faults.resolve_calls, hub.faults.cdn_requests)
    back = rehearsal.update(pinned_a, pinned_b, updated.physical_id)  # a pinned rollback
    assert back.status == "SUCCESS" and back.physical_id == branch.physical_id
    assert back.data["CommitSha"] == commit_a
    assert (hub.faults.api_calls, hub.faults.resolve_calls, hub.faults.cdn_requests) == calls

    hub.repos[repo].gated = True  # the Hub now refuses this stack (no token)
    unpinned = rehearsal.update(properties, pinned_b, updated.physical_id)
    assert unpinned.status == "SUCCESS", unpinned
    assert unpinned.physical_id == branch.physical_id  # main's completed copy: commit A
    refused = rehearsal.create({**properties, "Revision": "other-branch"})
    assert refused.status == "FAILED" and "is gated" in refused.reason  # nothing to fall back on


def test_a_new_bucket_is_an_update_that_copies_into_it(reference_assembly, world, s3):
    """The bucket is among the copy's properties: moving the weights bucket sends an Update, and
    the copy lands in the new bucket (under the policy synthesized for it) before the Model
    moves there."""
    rehearsal, properties, _, _ = rehearsal_for(reference_assembly, "BloomStack", world)
    commit = world["hub"].add_repo(REPOS["BloomStack"], repository("BloomStack"))
    first = rehearsal.create(properties)
    assert first.status == "SUCCESS"
    moved_to = f"lmi-weights-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=moved_to)
    moved_world = {**world, "bucket": moved_to}
    moved, moved_properties, _, _ = rehearsal_for(reference_assembly, "BloomStack", moved_world)
    assert moved_properties["Bucket"] == moved_to != properties["Bucket"]
    update = moved.update(moved_properties, properties, first.physical_id)
    assert update.status == "SUCCESS", update
    base = f"hub/{REPOS['BloomStack']}/{commit}/"
    assert update.physical_id == f"s3://{moved_to}/{base}"
    assert weights_under(s3, moved_to, base) == weights_under(s3, world["bucket"], base)


@pytest.fixture(scope="module")
def destroy_assembly(tmp_path_factory):
    """BloomStack's copy with removal_policy=DESTROY, into the LmiWeights bucket."""
    from aws_cdk import App, RemovalPolicy, Stack
    from aws_cdk import aws_s3 as s3_lib

    from lmi_constructs import Engine, LmiEndpoint, ModelCode, ModelSource

    from .conftest import ROOT

    app = App(outdir=str(tmp_path_factory.mktemp("destroy.out")))
    stack = Stack(app, "Disposable")
    bucket = s3_lib.Bucket.from_bucket_name(
        stack, "Weights", __import__("aws_cdk").Fn.import_value("LmiWeights-WeightsBucketName")
    )
    LmiEndpoint(
        stack,
        "Endpoint",
        model=ModelSource.from_hugging_face(
            REPOS["BloomStack"], removal_policy=RemovalPolicy.DESTROY
        ),
        instance_type="ml.p4d.24xlarge",
        tensor_parallel_degree=8,
        engine=Engine.DEEPSPEED,
        dtype="int8",
        image="0.19.0-deepspeed0.7.3-cu113",
        weights_bucket=bucket,
        model_code=ModelCode.from_directory(ROOT / "model_code"),
        request_limits=__import__("lmi_constructs").RequestLimits(2048, 320, None, 4),
    )
    return app.synth()


def test_destroy_never_deletes_what_a_rollback_leaves_to_resume_from(destroy_assembly, world):
    """removal_policy=DESTROY: a failed create's rollback keeps the partial copy, a successful
    update's cleanup deletes the old commit, the stack's deletion deletes the copy; onEvent tells
    them apart with DescribeStacks under its synthesized policy."""
    from pathlib import Path

    template = destroy_assembly.get_stack_by_name("Disposable").template
    resolver = physical_values(template, "Disposable", world["bucket"])
    rehearsal = CopyRehearsal(
        Path(destroy_assembly.directory), template, resolver, world["gate"], world["hub"].endpoint
    )
    properties = copy_properties(template, resolver)
    hub, s3, bucket, repo = world["hub"], world["s3"], world["bucket"], REPOS["BloomStack"]
    commit_a = hub.add_repo(repo, repository("BloomStack"))
    base_a = f"hub/{repo}/{commit_a}/"
    hub.faults.corrupt_paths = {large_file("BloomStack")}
    failed = rehearsal.create(properties)
    assert failed.status == "FAILED"
    rehearsal.stack_status = "ROLLBACK_IN_PROGRESS"
    assert rehearsal.delete(properties, failed.physical_id).status == "SUCCESS"
    kept = weights_under(s3, bucket, base_a)
    assert len(kept) == 6  # all but the corrupted file: what the next deploy resumes from

    hub.faults.corrupt_paths = set()
    rehearsal.stack_status = "CREATE_IN_PROGRESS"
    created = rehearsal.create(properties)
    commit_b = hub.add_repo(repo, repository("BloomStack", version=1))
    pinned = {**properties, "Revision": commit_b}
    rehearsal.stack_status = "UPDATE_IN_PROGRESS"
    updated = rehearsal.update(pinned, properties, created.physical_id)
    assert (created.status, updated.status) == ("SUCCESS", "SUCCESS")
    rehearsal.stack_status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
    rehearsal.delete(properties, created.physical_id)
    assert keys(s3, bucket, base_a) == []  # the old commit, after a successful update
    rehearsal.stack_status = "DELETE_IN_PROGRESS"
    rehearsal.delete(pinned, updated.physical_id)
    assert keys(s3, bucket, f"hub/{repo}/") == []
    assert world["gate"].refusals == []
