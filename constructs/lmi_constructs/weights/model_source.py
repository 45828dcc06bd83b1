"""ModelSource: where the weights come from, and what the execution role may read there.

`bind` returns the weights location and grants read on exactly that prefix. `from_hugging_face`
binds a HubWeights copy into the endpoint's weights bucket: its prefix is a deploy-time attribute,
so the Model that reads it waits for the copy.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional, Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct

from ..runtime.copier.hub import COMMIT_SHA
from ..runtime.copier.layout import normalise_prefix
from ..spec import SpecError, Violation
from ..spec.model_facts import ModelFacts, context_key
from .s3_paths import check_grant_prefix, parse_s3_uri


@dataclass(frozen=True)
class WeightsLocation:
    """Where a ModelSource's weights are, once bound.

    Args:
        bucket: the bucket.
        prefix: ends with "/" (or is empty for a whole bucket).
        model_id: the Hugging Face id, for the catalog checks and the plan. Default None.
        display_prefix: how the plan shows a prefix known only at deploy. Default: prefix.
    """

    bucket: s3.IBucket
    prefix: str
    model_id: Optional[str] = None
    display_prefix: Optional[str] = None

    @property
    def objects_arn(self) -> str:
        """Every object under the prefix: what the execution role may read."""
        return self.bucket.arn_for_objects(f"{self.prefix}*")

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"


# Where SageMaker puts an uncompressed S3Prefix model before the container starts (CreateModel,
# ModelDataSource: https://docs.aws.amazon.com/sagemaker/latest/dg/large-model-inference-uncompressed.html).
SAGEMAKER_MODEL_DIR = "/opt/ml/model"


def sagemaker_fetched(location: WeightsLocation):
    """ModelDataSource for the weights prefix: SageMaker copies it, uncompressed, to
    SAGEMAKER_MODEL_DIR with the execution role, so the container itself needs no S3 access."""
    from aws_cdk import aws_sagemaker as sagemaker

    return sagemaker.CfnModel.ModelDataSourceProperty(
        s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
            s3_uri=location.s3_uri, s3_data_type="S3Prefix", compression_type="None"
        )
    )


def grant_read_prefix(location: WeightsLocation, role: iam.IGrantable) -> None:
    """GetObject under the prefix and ListBucket limited to it: nothing else in the bucket."""
    iam.Grant.add_to_principal(
        grantee=role, actions=["s3:GetObject"], resource_arns=[location.objects_arn]
    )
    role.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[location.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{location.prefix}*"]}},
        )
    )
    if location.bucket.encryption_key is not None:
        location.bucket.encryption_key.grant_decrypt(role)


class ModelSource(abc.ABC):
    """Weights for the endpoint. Use the static factories.

    Args:
        model_id: the Hugging Face id the weights are of (see the factories).
        model_facts: the model's facts, when given by hand (see the factories).
        trust_remote_code: the model's own Python code may run (see the factories).
    """

    def __init__(
        self,
        model_id: Optional[str],
        model_facts: Optional[ModelFacts] = None,
        trust_remote_code: bool = False,
    ):
        self.model_id = model_id
        self.model_facts = model_facts
        self.trust_remote_code = bool(trust_remote_code)

    def context_keys(self) -> Sequence[str]:
        """The cdk.context.json keys `lmi lookup` records this source's facts under."""
        return [context_key(self.model_id)] if self.model_id else []

    def facts(self, scope: Construct) -> Optional[ModelFacts]:
        """The model's facts for the synth-time rules: model_facts when given, else the record
        `lmi lookup` wrote into the app's context (cdk.context.json), else None (the catalog
        is consulted by the spec). A malformed record is a SpecError naming its key."""
        if self.model_facts is not None:
            return self.model_facts
        for key in self.context_keys():
            record = scope.node.try_get_context(key)
            if record is None:
                continue
            try:
                return ModelFacts.from_record(record)
            except ValueError as error:
                raise SpecError(
                    [
                        Violation(
                            f"context {key}",
                            "(recorded facts)",
                            str(error),
                            f"run `lmi lookup {self.model_id}` again, or delete the key",
                        )
                    ],
                    subject=f"{scope.node.path} model facts",
                ) from None
        return None

    @staticmethod
    def from_bucket(
        bucket: s3.IBucket,
        prefix: str,
        model_id: Optional[str] = None,
        model_facts: Optional[ModelFacts] = None,
        trust_remote_code: bool = False,
    ) -> "ModelSource":
        """Weights already in S3 (uploaded beforehand, as the reference flow did); checked at
        deploy time (WeightsCheck) before the Model is created.

        Args:
            bucket: the bucket holding them; the role may read only under prefix.
            prefix: the key prefix of the weights (a trailing "/" is added; no * or ?).
            model_id: the Hugging Face id the weights are of, e.g. bigscience/bloom; the spec
                looks it up in the model catalog (parameters, attention heads). Default None:
                pass num_parameters and num_attention_heads to the endpoint instead.
            model_facts: the model's facts (ModelFacts) when neither the catalog nor a record of
                `lmi lookup` has them. Default None.
            trust_remote_code: let the container run the repository's own Python code, which
                a config.json with auto_map needs (LMI's option.trust_remote_code). Review the
                code at the commit you deploy first: it runs with the endpoint's role and
                network. Synth refuses such a model without it. Default False.
        """
        check_grant_prefix(prefix, "prefix")
        return _BucketSource(bucket, prefix, model_id, model_facts, trust_remote_code)

    @staticmethod
    def from_s3_uri(
        uri: str,
        model_id: Optional[str] = None,
        model_facts: Optional[ModelFacts] = None,
        trust_remote_code: bool = False,
    ) -> "ModelSource":
        """Weights already in S3 at a URI; the bucket is imported by name.

        Args:
            uri: s3://<bucket>/<prefix>/.
            model_id: the Hugging Face id the weights are of, e.g. bigscience/bloom; the spec
                looks it up in the model catalog (parameters, attention heads). Default None:
                pass num_parameters and num_attention_heads to the endpoint instead.
            model_facts: the model's facts (ModelFacts) when neither the catalog nor a record of
                `lmi lookup` (of the repository or of this URI) has them. Default None.
            trust_remote_code: let the container run the repository's own Python code, which
                a config.json with auto_map needs (LMI's option.trust_remote_code). Review the
                code at the commit you deploy first: it runs with the endpoint's role and
                network. Synth refuses such a model without it. Default False.
        """
        bucket, prefix = parse_s3_uri(uri, "weights URI")
        return _UriSource(bucket, prefix, model_id, model_facts, trust_remote_code)

    @staticmethod
    def from_hugging_face(
        repo_id: str,
        revision: str = "main",
        allow_patterns: Optional[Sequence[str]] = None,
        ignore_patterns: Optional[Sequence[str]] = None,
        token_secret: Optional[secretsmanager.ISecret] = None,
        hub_endpoint: Optional[str] = None,
        model_facts: Optional[ModelFacts] = None,
        trust_remote_code: bool = False,
        **hub_weights_options,
    ) -> "ModelSource":
        """Copy `repo_id` at `revision` from the Hub into the endpoint's weights bucket during
        the deploy (HubWeights), verified against the Hub's checksums.

        Args:
            repo_id: the Hub repository, e.g. bigscience/bloom; also the model_id.
            revision: branch, tag or commit sha. Default "main". A record of `lmi lookup
                REPO_ID --revision REVISION` in cdk.context.json pins it to the commit the facts
                were read at, as CDK's context lookups pin what they found.
            allow_patterns: fnmatch patterns of the files to copy. Default: the shards the
                checkpoint's index names (one format, no consolidated/original duplicates) plus
                the top-level json, tokenizer and chat-template files (HubWeights).
            ignore_patterns: patterns removed from what allow_patterns selected. Default none.
            token_secret: a Secrets Manager secret holding a Hub token (plain text or
                {"HF_TOKEN": ...}) for gated or private repositories. Default: no token.
            hub_endpoint: a mirror or private hub (a token goes only over https).
                Default https://huggingface.co.
            model_facts: the model's facts (ModelFacts) when neither the catalog nor a record of
                `lmi lookup` has them. Default None.
            trust_remote_code: let the container run the repository's own Python code, which
                a config.json with auto_map needs (LMI's option.trust_remote_code). Review the
                code at the commit you deploy first: it runs with the endpoint's role and
                network. Synth refuses such a model without it. Default False.
            hub_weights_options: HubWeights' other options (prefix, max_parallel_workers,
                part_size_mib, removal_policy), passed through.
        """
        return _HubSource(
            repo_id,
            model_facts,
            trust_remote_code,
            dict(
                revision=revision,
                allow_patterns=allow_patterns,
                ignore_patterns=ignore_patterns,
                token_secret=token_secret,
                hub_endpoint=hub_endpoint,
                **hub_weights_options,
            ),
        )

    @staticmethod
    def from_weights_bucket(
        prefix: str,
        model_id: Optional[str] = None,
        model_facts: Optional[ModelFacts] = None,
        trust_remote_code: bool = False,
    ) -> "ModelSource":
        """Weights staged under prefix in the endpoint's own weights bucket (lmi
        stage-weights), checked at deploy time.

        Args:
            prefix: the key prefix in the weights bucket (no * or ?).
            model_id: the Hugging Face id the weights are of, e.g. bigscience/bloom; the spec
                looks it up in the model catalog (parameters, attention heads). Default None:
                pass num_parameters and num_attention_heads to the endpoint instead.
            model_facts: the model's facts (ModelFacts) when neither the catalog nor a record of
                `lmi lookup` has them. Default None.
            trust_remote_code: let the container run the repository's own Python code, which
                a config.json with auto_map needs (LMI's option.trust_remote_code). Review the
                code at the commit you deploy first: it runs with the endpoint's role and
                network. Synth refuses such a model without it. Default False.
        """
        check_grant_prefix(prefix, "prefix")
        return _OwnBucketSource(prefix, model_id, model_facts, trust_remote_code)

    @property
    def needs_weights_bucket(self) -> bool:
        """True when the endpoint must provide (or create) the weights bucket."""
        return False

    @property
    def verifies_weights(self) -> bool:
        """True when the source itself guarantees complete weights before the Model exists
        (the Hub copy); otherwise LmiEndpoint checks the prefix at deploy time."""
        return False

    @abc.abstractmethod
    def bind(
        self, scope: Construct, role: iam.IGrantable, weights_bucket: Optional[s3.IBucket]
    ) -> WeightsLocation:
        """Resolve the location and grant role read access to exactly it."""


class _BucketSource(ModelSource):
    def __init__(self, bucket: s3.IBucket, prefix: str, model_id, model_facts, trust):
        super().__init__(model_id, model_facts, trust)
        self.bucket, self.prefix = bucket, normalise_prefix(prefix)

    def bind(self, scope, role, weights_bucket):
        location = WeightsLocation(self.bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _UriSource(ModelSource):
    def __init__(self, bucket_name: str, prefix: str, model_id, model_facts, trust):
        super().__init__(model_id, model_facts, trust)
        self.bucket_name, self.prefix = bucket_name, normalise_prefix(prefix)

    def context_keys(self) -> Sequence[str]:
        uri = f"s3://{self.bucket_name}/{self.prefix}"
        return [context_key(uri), *super().context_keys()]

    def bind(self, scope, role, weights_bucket):
        bucket = s3.Bucket.from_bucket_name(scope, "WeightsSource", self.bucket_name)
        location = WeightsLocation(bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _OwnBucketSource(ModelSource):
    def __init__(self, prefix: str, model_id, model_facts, trust):
        super().__init__(model_id, model_facts, trust)
        self.prefix = normalise_prefix(prefix)

    @property
    def needs_weights_bucket(self) -> bool:
        return True

    def bind(self, scope, role, weights_bucket):
        location = WeightsLocation(weights_bucket, self.prefix, self.model_id)
        grant_read_prefix(location, role)
        return location


class _HubSource(ModelSource):
    def __init__(self, repo_id: str, model_facts, trust, options: dict):
        super().__init__(repo_id, model_facts, trust)
        self.options = options

    def context_keys(self) -> Sequence[str]:
        return [context_key(self.model_id or "", self.options.get("revision"))]

    def pinned_revision(self, scope: Construct) -> str:
        """The asked revision, or the commit a record of `lmi lookup` read it at."""
        asked = self.options.get("revision") or "main"
        record = scope.node.try_get_context(self.context_keys()[0])
        commit = record.get("revision") if isinstance(record, dict) else None
        return commit if isinstance(commit, str) and COMMIT_SHA.match(commit) else asked

    @property
    def needs_weights_bucket(self) -> bool:
        return True

    @property
    def verifies_weights(self) -> bool:
        return True

    def bind(self, scope, role, weights_bucket):
        from .hub_weights import HubWeights  # Lambda functions: only built when used

        options = {**self.options, "revision": self.pinned_revision(scope)}
        if self.trust_remote_code:  # the copy then takes the repository's *.py too
            options["trust_remote_code"] = True
        copy = HubWeights(
            scope, "HubWeights", bucket=weights_bucket, repo_id=self.model_id, **options
        )
        location = WeightsLocation(
            weights_bucket, copy.key_prefix, self.model_id, display_prefix=copy.display_prefix
        )
        grant_read_prefix(location, role)
        return location
