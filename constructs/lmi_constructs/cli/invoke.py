"""`lmi invoke`: send one prompt (or a conversation) to an endpoint (by stack, name or URL) and
print the text.

PROMPT goes as LMI's {"inputs": ..., "parameters": ...}, which every engine takes. --chat TEXT
(one user message) or --messages-file FILE (an OpenAI-style messages list) go as LMI's chat
schema, {"messages": [...], "max_tokens": ...}, which Engine.VLLM endpoints take (LMI's vLLM
async service); our model.py handler (DEEPSPEED/ACCELERATE) does not, and is refused before
sending.

--stream prints the tokens as they are generated (InvokeEndpointWithResponseStream, LMI's
jsonlines): for Engine.VLLM endpoints; our model.py handler answers whole generations.

Exit 0 with the generated text on stdout; 1 when the endpoint answers an error (its message is
shown); 2 on invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .chat import chat_hint, chat_payload, chat_refusal, chat_text, load_messages
from .errors import StreamError, TargetError
from .target import error_message, generations
from .target_lookup import add_target_arguments, parse_params, resolve_target
from .token_stream import token_events


def register(commands) -> None:
    parser = commands.add_parser(
        "invoke",
        help="send a prompt to an endpoint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(parser)
    parser.add_argument(
        "prompt", nargs="*", help="one or more prompts (one request; several: a batch)"
    )
    conversation = parser.add_mutually_exclusive_group()
    conversation.add_argument(
        "--chat", metavar="TEXT", help="one user message, in LMI's chat schema (Engine.VLLM)"
    )
    conversation.add_argument(
        "--messages-file",
        type=Path,
        metavar="FILE",
        help='a JSON list of messages, e.g. [{"role": "system", "content": "..."}, '
        '{"role": "user", "content": "..."}], in LMI\'s chat schema (Engine.VLLM)',
    )
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a generation parameter, e.g. temperature=0.7 or do_sample=true (with --chat: "
        'a chat field, e.g. temperature=0.7 or stop=["\\n"])',
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
    chat = args.chat is not None or args.messages_file is not None
    try:
        params = parse_params(args.param)
        messages = (
            load_messages(args.messages_file)
            if args.messages_file
            else [{"role": "user", "content": args.chat}]
            if chat
            else None
        )
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 2
    problem = _argument_problem(args, chat)
    if problem:
        print(f"lmi invoke: {problem}", file=sys.stderr)
        return 2
    if chat:
        flag = "--chat" if args.chat is not None else "--messages-file"
        payload = chat_payload(messages or [], args.max_new_tokens, params)
    else:
        flag = ""
        inputs = args.prompt[0] if len(args.prompt) == 1 else args.prompt
        parameters = {"max_new_tokens": args.max_new_tokens, **params}
        payload = {"inputs": inputs, "parameters": parameters}
    try:
        target = resolve_target(args)
        refusal = _target_refusal(target, args, chat, flag)
        if refusal:
            print(f"lmi invoke: {refusal}", file=sys.stderr)
            return 2
        if args.stream:
            return _stream(target, payload, args.json)
        status, body = target.invoke(payload)
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 1
    if status != 200:
        hint = chat_hint(status) if chat and target.takes_chat is None else ""
        print(
            f"lmi invoke: {target.name} answered {status}: {error_message(body)}{hint}",
            file=sys.stderr,
        )
        return 1
    try:
        if args.json:
            print(json.dumps(body, indent=1))
        elif chat:
            print(chat_text(body))
        else:
            for result in generations(body):
                print(result["generated_text"])
    except TargetError as error:
        print(f"lmi invoke: {error}", file=sys.stderr)
        return 1
    return 0


def _argument_problem(args, chat: bool):
    if chat and args.prompt:
        return (
            f"a prompt ({args.prompt[0]!r}) and --chat/--messages-file: pass one of them "
            "(the chat text goes in --chat)"
        )
    if not chat and not args.prompt:
        return "no prompt: pass one, or --chat TEXT, or --messages-file FILE"
    if args.stream and len(args.prompt) > 1:
        return "--stream takes one prompt (a stream carries one generation)"
    return None


def _target_refusal(target, args, chat: bool, flag: str):
    """What the target's engine cannot take, known before sending."""
    if chat:
        return chat_refusal(target, flag)
    if len(args.prompt) > 1 and target.takes_chat:
        return (
            f"{len(args.prompt)} prompts: {target.name} runs engine "
            f"{target.description.get('engine')}, whose LMI service takes one prompt per "
            "request (it answers a list with the first generation only): send one prompt "
            "per invocation"
        )
    return None


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
