"""The code of this library's Lambda functions, one module of entry points per custom resource
(hub_weights, weights_check, scaling_guard, network_release), and copier/, the Hugging Face to S3
copy library they and `lmi stage-weights` share.

Standard library, boto3/botocore and urllib3 only: all present in the Lambda Python runtime, so
this package is the asset itself (no bundling). Never import aws_cdk here.
"""
