"""`lmi invoke`: send one prompt to an endpoint (by stack, name or URL) and print the text.

Exit 0 with the generated text on stdout; 1 when the endpoint answers an error (its message is
shown); 2 on invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from .endpoint_target import TargetError, add_target_arguments, parse_params, resolve_target


def register(commands) -> None:
    parser = commands.add_parser("invoke", help="send a prompt to an endpoint",
                                 description=__doc__)
    add_target_arguments(parser)
    parser.add_argument("prompt", nargs="+", help="one or more prompts (one request, batched)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="a generation parameter, e.g. temperature=0.7 or do_sample=true")
    parser.add_argument("--json", action="store_true", help="print the raw JSON response")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        parameters = {"max_new_tokens": args.max_new_tokens, **parse_params(args.param)}
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 2
    inputs = args.prompt[0] if len(args.prompt) == 1 else args.prompt
    try:
        target = resolve_target(args)
        status, body = target.invoke({"inputs": inputs, "parameters": parameters})
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 1
    if status != 200:
        message = body.get("error", body) if isinstance(body, dict) else body
        print(f"lmi invoke: {target.name} answered {status}: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=1))
    else:
        for result in body:
            print(result["generated_text"])
    return 0
