#!/usr/bin/env python3
"""The CDK app: LmiWeights (the retained weights bucket), BloomStack and OptStack (the 2022
reference endpoints) and QwenStack (the 2026 one: inference components, scale to zero), which
all copy into it, checked by cdk-nag's AwsSolutions pack on every synth.

An invalid context override stops synth with the SpecError text and exit code 2, so a wrong
tensor-parallel degree is found in seconds, not after a 40-minute health check.
"""

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from lmi_constructs import SpecError
from stacks import BloomStack, OptStack, QwenStack, WeightsStack


def build_app(**app_props) -> App:
    """The four stacks with the nag pack; app_props (outdir, context) are for tests.
    `cdk deploy BloomStack` deploys LmiWeights first: BloomStack uses its bucket."""
    app = App(**app_props)
    weights = WeightsStack(app, "LmiWeights")
    BloomStack(app, "BloomStack", weights=weights)
    OptStack(app, "OptStack", weights=weights)
    QwenStack(app, "QwenStack", weights=weights)
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
