"""The execution role and its grants, and the acknowledgements cdk-nag and checkov read."""
