#!/usr/bin/env python3
"""The CDK app: BloomStack and OptStack, checked by cdk-nag's AwsSolutions pack on every synth.

An invalid context override stops synth with the SpecError text and exit code 2, so a wrong
tensor-parallel degree is found in seconds, not after a 40-minute health check.
"""

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from lmi_constructs import SpecError
from stacks import BloomStack, OptStack


def build_app(**app_props) -> App:
    """Both stacks with the nag pack; app_props (outdir, context) are for tests."""
    app = App(**app_props)
    BloomStack(app, "BloomStack")
    OptStack(app, "OptStack")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> int:
    try:
        app = build_app()
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
