"""`lmi invoke`: send one prompt to an endpoint (by stack, name or URL) and print the text.

--stream prints the tokens as they are generated (InvokeEndpointWithResponseStream, LMI's
jsonlines): for Engine.VLLM endpoints; our model.py handler answers whole generations.

Exit 0 with the generated text on stdout; 1 when the endpoint answers an error (its message is
shown); 2 on invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import StreamError, TargetError
from .target import error_message, generations
from .target_lookup import add_target_arguments, parse_params, resolve_target
from .token_stream import token_events


def register(commands) -> None:
    parser = commands.add_parser("invoke", help="send a prompt to an endpoint", description=__doc__)
    add_target_arguments(parser)
    parser.add_argument("prompt", nargs="+", help="one or more prompts (one request, batched)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a generation parameter, e.g. temperature=0.7 or do_sample=true",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="print tokens as they arrive (one prompt; Engine.VLLM endpoints)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the raw JSON response (with --stream: one JSON line per token)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        parameters = {"max_new_tokens": args.max_new_tokens, **parse_params(args.param)}
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 2
    if args.stream and len(args.prompt) > 1:
        print(
            "lmi invoke: --stream takes one prompt (a stream carries one generation)",
            file=sys.stderr,
        )
        return 2
    inputs = args.prompt[0] if len(args.prompt) == 1 else args.prompt
    try:
        target = resolve_target(args)
        if args.stream:
            return _stream(target, {"inputs": inputs, "parameters": parameters}, args.json)
        status, body = target.invoke({"inputs": inputs, "parameters": parameters})
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(
            f"lmi invoke: {target.name} answered {status}: {error_message(body)}", file=sys.stderr
        )
        return 1
    if args.json:
        print(json.dumps(body, indent=1))
    else:
        for result in generations(body):
            print(result["generated_text"])
    return 0


def _stream(target, payload, as_json: bool) -> int:
    if target.answers_whole:
        engine = target.description.get("engine")
        print(
            f"lmi invoke: {target.name} runs engine {engine}, whose handler answers whole "
            "generations: drop --stream (or serve the model with Engine.VLLM)",
            file=sys.stderr,
        )
        return 2
    try:
        for event in token_events(target.invoke_stream(payload)):
            if as_json:
                print(json.dumps(vars(event)), flush=True)
            else:
                sys.stdout.write(event.text)
                sys.stdout.flush()
    except (TargetError, StreamError) as error:
        print(f"\nlmi invoke: {error}", file=sys.stderr)
        return 1
    if not as_json:
        print()
    return 0
