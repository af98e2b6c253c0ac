#!/usr/bin/env python3
"""Gathers the example corpora from text available offline on a Debian machine, plus two
generated ones, and splits each into train.txt / held_out.txt (every tenth 4 KiB block held
out). Output: examples/corpus/<domain>/{train,held_out}.txt (git-ignored). Deterministic.

Sources and licences are listed in examples/README.md.
"""
import glob
import gzip
import os
import random
import subprocess
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
LIMIT = 1_500_000  # bytes per domain


def split_write(domain, text):
    data = text.encode("utf-8", "replace")[:LIMIT]
    train, held = bytearray(), bytearray()
    for i in range(0, len(data), 4096):
        (held if (i // 4096) % 10 == 9 else train).extend(data[i : i + 4096])
    os.makedirs(os.path.join(OUT, domain), exist_ok=True)
    for name, part in (("train.txt", train), ("held_out.txt", held)):
        with open(os.path.join(OUT, domain, name), "wb") as f:
            f.write(part)
    print(f"{domain:>14}: {len(train):>8} train bytes, {len(held):>7} held out")


def general():
    """English prose: Python's topic help, the common licences, GNU tool manual pages."""
    parts = []
    sys.path.insert(0, sorted(glob.glob("/usr/lib/python3.*/"))[-1])
    from pydoc_data import topics

    parts.extend(topics.topics[k] for k in sorted(topics.topics))
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            parts.append(open(path, encoding="utf-8", errors="replace").read())
    pages = []
    for package in ("coreutils", "findutils", "grep", "sed", "tar", "gzip", "diffutils"):
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout
        pages += [p for p in listing.split() if "/man/man1/" in p and p.endswith(".gz")]
    env = dict(os.environ, MANWIDTH="80")
    for page in sorted(pages):
        rendered = subprocess.run(
            ["man", "-P", "cat", "-l", page], capture_output=True, text=True, env=env
        ).stdout
        parts.append(rendered.replace("\u2010", "-"))
    random.Random(1).shuffle(parts)
    return "\n\n".join(parts)


def python_code():
    """The Python standard library's own sources (top-level modules)."""
    files = sorted(glob.glob(sorted(glob.glob("/usr/lib/python3.*/"))[-1] + "*.py"))
    random.Random(2).shuffle(files)
    return "\n\n".join(open(f, encoding="utf-8", errors="replace").read() for f in files)


def rust_code():
    """Rust sources of MIT/Apache-2.0 crates in the local cargo registry."""
    wanted = ("semver-1", "serde-1", "clap_builder-4", "regex-syntax-0", "tokio-1", "anyhow-1",
              "thiserror-2", "indicatif-0", "sha2-0", "tar-0", "axum-0", "pubgrub-0")
    roots = sorted(
        d for d in glob.glob(os.path.expanduser("~/.cargo/registry/src/*/*"))
        if os.path.basename(d).startswith(wanted)
    )
    files = []
    for root in roots:
        manifest = open(os.path.join(root, "Cargo.toml"), errors="replace").read()
        if "MIT" in manifest or "Apache-2.0" in manifest:
            files += sorted(glob.glob(os.path.join(root, "src/**/*.rs"), recursive=True))
    random.Random(3).shuffle(files)
    return "\n\n".join(open(f, encoding="utf-8", errors="replace").read() for f in files)


def reasoning():
    """Generated step-by-step exercises: arithmetic, comparisons, sequences, syllogisms."""
    rng = random.Random(4)
    names = ["Ada", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo"]
    things = ["apples", "books", "coins", "stamps", "marbles", "pens", "shells", "cards"]
    out = []
    while sum(map(len, out)) < LIMIT:
        kind = rng.randrange(5)
        if kind == 0:
            a, b = rng.randrange(2, 99), rng.randrange(2, 99)
            out.append(f"Q: What is {a} + {b}?\nA: {a} + {b} = {a + b}. The answer is {a + b}.\n")
        elif kind == 1:
            n, t = rng.choice(names), rng.choice(things)
            a, b, c = rng.randrange(5, 50), rng.randrange(1, 20), rng.randrange(1, 5)
            out.append(
                f"Q: {n} has {a} {t}, gives away {b}, then buys {c} bags of {b} {t}. How many {t} now?\n"
                f"A: Start with {a}. After giving away {b}: {a} - {b} = {a - b}. "
                f"Buying {c} bags of {b} adds {c} * {b} = {c * b}. {a - b} + {c * b} = {a - b + c * b}. "
                f"The answer is {a - b + c * b}.\n"
            )
        elif kind == 2:
            a, b = rng.randrange(100), rng.randrange(100)
            rel = "greater than" if a > b else "less than" if a < b else "equal to"
            out.append(f"Q: Is {a} greater than, less than or equal to {b}?\nA: {a} is {rel} {b}.\n")
        elif kind == 3:
            start, step = rng.randrange(1, 20), rng.randrange(2, 9)
            seq = [start + i * step for i in range(5)]
            out.append(
                f"Q: What comes next: {', '.join(map(str, seq))}?\n"
                f"A: Each term adds {step}. {seq[-1]} + {step} = {seq[-1] + step}. The answer is {seq[-1] + step}.\n"
            )
        else:
            x, y, z = rng.sample(["cats", "dogs", "birds", "fish", "owls", "foxes", "bees"], 3)
            out.append(
                f"Q: All {x} are {y}. All {y} are {z}. Are all {x} {z}?\n"
                f"A: Every one of the {x} is one of the {y}, and every one of the {y} is one of the {z}. "
                f"So yes, all {x} are {z}.\n"
            )
    return "\n".join(out)


def chat():
    """Generated chat transcripts: greetings, requests and answers in a fixed house style."""
    rng = random.Random(5)
    topics = {
        "the weather": "I cannot see outside, but a quick look at a forecast site will tell you.",
        "a good book": "Try a classic you have not read yet; short novels are a kind start.",
        "cooking rice": "Rinse it, use about two cups of water per cup of rice, and simmer covered.",
        "sleep": "Keep a steady bedtime and put the screen away half an hour before.",
        "learning to code": "Pick one small project and build it end to end; then build another.",
        "a birthday gift": "Something they mentioned wanting lately is usually the best choice.",
        "exercise": "A brisk walk every day is a fine start; add more once it is a habit.",
        "saving money": "Write down what you spend for a month; the leaks show themselves.",
    }
    greetings = ["Hello!", "Hi there.", "Good morning!", "Hey.", "Good evening."]
    replies = ["Hello! How can I help you today?", "Hi! What can I do for you?",
               "Good to see you. What would you like to talk about?"]
    thanks = ["Thanks!", "Thank you, that helps.", "Great, thanks a lot."]
    closing = ["You're welcome! Anything else?", "Glad to help. Have a nice day!",
               "Any time. Take care!"]
    out = []
    while sum(map(len, out)) < LIMIT:
        topic = rng.choice(sorted(topics))
        out.append(
            f"User: {rng.choice(greetings)}\nAssistant: {rng.choice(replies)}\n"
            f"User: Can you give me some advice about {topic}?\nAssistant: Sure. {topics[topic]}\n"
            f"User: {rng.choice(thanks)}\nAssistant: {rng.choice(closing)}\n"
        )
    return "\n".join(out)


if __name__ == "__main__":
    for domain, make in (("general", general), ("python_code", python_code), ("rust_code", rust_code),
                         ("reasoning", reasoning), ("general_chat", chat)):
        split_write(domain, make())
