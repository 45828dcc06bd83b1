"""Code that runs in AWS Lambda (and, unchanged, in `lmi stage-weights`): the Hugging Face to S3
weights copier. Standard library, boto3/botocore and urllib3 only: all present in the Lambda
Python runtime, so the asset needs no bundling. Never import aws_cdk here.
"""
