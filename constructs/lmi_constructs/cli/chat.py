"""LMI's chat schema for `lmi invoke --chat/--messages-file` and `lmi bench --chat`: an OpenAI
chat completions request under /invocations, which LMI's vLLM async service recognises by its
"messages" field (djl-serving serving/docs/lmi/user_guides/chat_input_output_schema.md and
lmi_vllm/vllm_async_service.py, branch 0.36.0-lmi27-dlc). Our model.py handler (DEEPSPEED and
ACCELERATE endpoints) takes {"inputs": ...} only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from .errors import TargetError
from .target import Target

ROLES = ("system", "user", "assistant", "tool", "developer")


def load_messages(path: Path) -> List[Dict[str, Any]]:
    """An OpenAI-style messages list from a JSON file (a list, or an object with "messages");
    TargetError naming the file, the entry and the fix."""
    try:
        value = json.loads(Path(path).read_text())
    except OSError as error:
        raise TargetError(f"--messages-file {path}: {error.strerror}") from error
    except ValueError as error:
        raise TargetError(f"--messages-file {path}: not JSON ({error})") from error
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    example = '[{"role": "user", "content": "Hello"}]'
    if not isinstance(value, list) or not value:
        raise TargetError(
            f"--messages-file {path}: expected a non-empty list of messages, e.g. {example}"
        )
    for index, message in enumerate(value):
        where = f"--messages-file {path}: message {index}"
        if not isinstance(message, dict):
            raise TargetError(f"{where} is {json.dumps(message)[:60]}, not an object: {example}")
        if message.get("role") not in ROLES:
            raise TargetError(
                f"{where} has role {message.get('role')!r}: use one of {', '.join(ROLES)}"
            )
        content = message.get("content")
        if not isinstance(content, (str, list)):
            raise TargetError(
                f"{where} has content {json.dumps(content)[:60]}: give a string "
                '(or a list of {"type": "text", "text": ...} parts)'
            )
    return value


def chat_payload(
    messages: List[Dict[str, Any]], max_tokens: int, params: Dict[str, Any]
) -> Dict[str, Any]:
    """The request: --param keys are chat fields (temperature, top_p, stop, seed ...)."""
    return {"messages": messages, "max_tokens": max_tokens, **params}


def chat_text(body) -> str:
    """The assistant's answer in a chat.completion response."""
    try:
        return body["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError) as error:
        raise TargetError(
            f"the answer is not a chat completion: {json.dumps(body)[:200]}"
        ) from error


def chat_refusal(target: Target, flag: str) -> Optional[str]:
    """Why the target cannot take the chat schema, before anything is sent; None when it can
    or does not say."""
    if target.takes_chat is not False:
        return None
    return (
        f"{flag}: {target.name} runs engine {target.description.get('engine')}, whose handler "
        '(model_code/model.py) takes {"inputs": ...} only, not LMI\'s chat schema: drop '
        f"{flag} and pass the prompt, or serve the model with Engine.VLLM"
    )


def chat_hint(status: int) -> str:
    """What to add to an error answer to a chat request from an endpoint of unknown engine."""
    if status in (400, 424):
        return (
            " (if the endpoint runs our model.py handler, it does not take the chat schema: "
            "drop --chat)"
        )
    return ""
