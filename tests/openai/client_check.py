#!/usr/bin/env python3
"""Talks to a running `modularbase serve` through the official `openai` client, with strict
response validation, and prints what it got as one JSON object on stdout.

Usage:
    py="$(scripts/llamacpp-venv.sh | tail -n 1)"
    "$py" tests/openai/client_check.py BASE_URL MODEL [--seed N] [--max-tokens N]

BASE_URL is the server's root (`http://127.0.0.1:11435`); the client talks to BASE_URL/v1.
It runs a chat completion, streamed and not, a text completion, streamed and not, lists the
models, and asks for an unknown model and for temperature 5, expecting 404 and 400. Exit
status 0 when every call went as expected, 1 (with the exception on stderr) otherwise.

Streamed text completions are read with strict validation off: openai-python types a
completion chunk's `finish_reason` as never null, while OpenAI (and this server) send null on
every chunk but the finishing one. Each chunk is still checked here by hand.
"""

import argparse
import json
import sys
import traceback

import openai
from openai import OpenAI

UNKNOWN_MODEL = "no-such-model-anywhere"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("model")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=16)
    return parser.parse_args()


def sampling(args):
    return {"temperature": 0.7, "seed": args.seed, "max_tokens": args.max_tokens}


def chat(client, args, messages):
    response = client.chat.completions.create(model=args.model, messages=messages, **sampling(args))
    assert response.object == "chat.completion", response.object
    assert len(response.choices) == 1, response.choices
    extra = response.model_extra or {}
    assert "modularbase" in extra, "no `modularbase` field on the chat response"
    return response


def chat_stream(client, args, messages):
    stream = client.chat.completions.create(
        model=args.model,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        **sampling(args),
    )
    text, finish, usage, ids, role = [], None, None, set(), None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk", chunk.object
        ids.add(chunk.id)
        for choice in chunk.choices:
            role = role or choice.delta.role
            if choice.delta.content:
                text.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
        if chunk.usage is not None:
            assert not chunk.choices, "the usage chunk has choices"
            usage = chunk.usage.model_dump(exclude_none=True)
    assert len(ids) == 1, f"chunks with several ids: {ids}"
    assert role == "assistant", role
    assert usage is not None, "no usage chunk despite include_usage"
    return "".join(text), finish, usage


def completion(client, args, prompt):
    response = client.completions.create(model=args.model, prompt=prompt, **sampling(args))
    assert response.object == "text_completion", response.object
    return response.choices[0].text


def completion_stream(lenient, args, prompt):
    stream = lenient.completions.create(model=args.model, prompt=prompt, stream=True, **sampling(args))
    text, finish = [], None
    for chunk in stream:
        assert chunk.object == "text_completion", chunk.object
        for choice in chunk.choices:
            assert choice.finish_reason in (None, "stop", "length"), choice.finish_reason
            text.append(choice.text)
            finish = choice.finish_reason or finish
    assert finish is not None, "no chunk finished the stream"
    return "".join(text)


def models(client):
    listed = list(client.models.list())
    ids = [m.id for m in listed]
    parents = {m.id: (m.model_extra or {}).get("parent") for m in listed}
    return ids, parents


def expect_error(call, kind):
    try:
        call()
    except kind as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {
            "status": e.status_code,
            "message": body.get("message", e.message),
            "type": e.type,
            "code": e.code,
            "param": e.param,
        }
    raise AssertionError(f"expected {kind.__name__}")


def main():
    args = parse_args()
    url = args.base_url.rstrip("/") + "/v1"
    client = OpenAI(base_url=url, api_key="x", max_retries=0, _strict_response_validation=True)
    lenient = OpenAI(base_url=url, api_key="x", max_retries=0, _strict_response_validation=False)
    messages = [{"role": "user", "content": "Write a short greeting."}]
    prompt = "Once upon a time"
    try:
        response = chat(client, args, messages)
        chat_stream_text, chat_finish, chat_usage = chat_stream(client, args, messages)
        ids, parents = models(client)
        bad = dict(sampling(args), temperature=5)
        result = {
            "chat": response.choices[0].message.content,
            "chat_stream": chat_stream_text,
            "chat_usage": chat_usage,
            "chat_finish": chat_finish,
            "completion": completion(client, args, prompt),
            "completion_stream": completion_stream(lenient, args, prompt),
            "models": ids,
            "parents": parents,
            "not_found": expect_error(
                lambda: client.chat.completions.create(
                    model=UNKNOWN_MODEL, messages=messages, **sampling(args)
                ),
                openai.NotFoundError,
            ),
            "bad_request": expect_error(
                lambda: client.chat.completions.create(model=args.model, messages=messages, **bad),
                openai.BadRequestError,
            ),
            "pack": (response.model_extra or {})["modularbase"].get("pack"),
        }
    except Exception:  # noqa: BLE001 - every failure is reported the same way
        traceback.print_exc()
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
