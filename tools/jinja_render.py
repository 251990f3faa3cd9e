#!/usr/bin/python3
"""Reference chat-template renderer (python3-jinja2, configured as Hugging Face transformers
renders chat templates) and the byte-for-byte comparison test against cachet's interpreter.

Render mode (default): JSON lines on stdin, one out per line:
  in:  {"template": "...", "messages": [...], "tools": [...]|null, "add_generation_prompt": b,
        "bos_token": "...", "eos_token": "...", "extra": {...}}
  out: {"text": "..."} or {"error": "..."}

Check mode: --check --renderer PATH --shared DIR --testdata DIR
  Builds every (template x conversation x add_generation_prompt x extra) request from the shared
  tokenizer_config.json templates and testdata/templates/*.jinja, plus one request per
  testdata/snippets.json template, renders each with python jinja2
  and with PATH (cachet's jinja_render), and requires identical text (or an error from both).
  Exit 0: all identical; 1: a mismatch; 77: python3-jinja2 is missing (ctest skip).

CLI mode: --cli PATH/cachet --shared DIR --testdata DIR
  Same comparison through `cachet template --tokenizer DIR` for each shared tokenizer (its
  tokenizer_config.json template and bos/eos tokens).
Always run with /usr/bin/python3 (Debian's python3-jinja2).
"""
import argparse
import datetime
import glob
import json
import os
import subprocess
import sys

try:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """{% generation %}...{% endgeneration %}: renders its body, as transformers'
        AssistantTracker does (which also records the character span for masks)."""
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            call = self.call_method("_render_body")
            return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _render_body(self, caller):
            return caller()
except ImportError:
    jinja2 = None


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # As transformers defines it: plain json.dumps (no HTML escaping).
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols, GenerationTag])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_CACHE = {}


def render(env, req):
    src = req.get("template", "")
    try:
        if src not in _CACHE:
            _CACHE[src] = env.from_string(src)
        ctx = dict(messages=req.get("messages", []), tools=req.get("tools"), documents=None,
                   add_generation_prompt=req.get("add_generation_prompt", True),
                   bos_token=req.get("bos_token", ""), eos_token=req.get("eos_token", ""))
        ctx.update(req.get("extra") or {})
        return {"text": _CACHE[src].render(**ctx)}
    except Exception as e:  # template errors of any kind are part of the compared behaviour
        return {"error": "%s: %s" % (type(e).__name__, e)}


def token_text(tok):
    if isinstance(tok, dict):
        return tok.get("content", "")
    return tok or ""


def build_requests(shared, testdata):
    templates = {}
    for cfg in sorted(glob.glob(os.path.join(shared, "tokenizers", "*", "tokenizer_config.json"))):
        with open(cfg, encoding="utf-8") as f:
            c = json.load(f)
        name = os.path.basename(os.path.dirname(cfg))
        templates[name] = (c["chat_template"], token_text(c.get("bos_token")),
                           token_text(c.get("eos_token")))
    for path in sorted(glob.glob(os.path.join(testdata, "templates", "*.jinja"))):
        with open(path, encoding="utf-8") as f:
            templates[os.path.basename(path)[:-6]] = (f.read(), "<s>", "</s>")
    with open(os.path.join(testdata, "conversations.json"), encoding="utf-8") as f:
        data = json.load(f)
    reqs = []
    for tname, (src, bos, eos) in templates.items():
        for cname, messages in data["conversations"].items():
            for with_tools in (False, True):
                for agp in (True, False):
                    for extra in data["extras"]:
                        extra = dict(extra, date_string="26 Jul 2024")
                        reqs.append(({"template": tname, "conversation": cname,
                                      "tools": with_tools, "add_generation_prompt": agp,
                                      "extra": extra},
                                     {"template": src, "messages": messages,
                                      "tools": data["tools"] if with_tools else None,
                                      "add_generation_prompt": agp, "bos_token": bos,
                                      "eos_token": eos, "extra": extra}))
    # Small templates covering the expression language, filters, tests and whitespace rules,
    # rendered over the first conversation plus a few variables.
    snippets = os.path.join(testdata, "snippets.json")
    if os.path.exists(snippets):
        with open(snippets, encoding="utf-8") as f:
            for i, src in enumerate(json.load(f)):
                messages = data["conversations"]["system_multi_turn"]
                extra = {"y": 1, "z": [1, 2]}
                reqs.append(({"snippet": i, "template": src},
                             {"template": src, "messages": messages, "tools": None,
                              "add_generation_prompt": True, "bos_token": "<s>",
                              "eos_token": "</s>", "extra": extra}))
    return reqs


def check(args):
    env = make_env()
    reqs = build_requests(args.shared, args.testdata)
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for _, r in reqs)
    proc = subprocess.run([args.renderer], input=stdin.encode("utf-8"), stdout=subprocess.PIPE,
                          check=True)
    got = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    if len(got) != len(reqs):
        print("renderer returned %d lines for %d requests" % (len(got), len(reqs)))
        return 1
    failures, texts, errors = 0, 0, 0
    for (label, req), cc in zip(reqs, got):
        ref = render(env, req)
        same = ("text" in ref and cc.get("text") == ref["text"]) or ("error" in ref and "error" in cc)
        if same and ref.get("error", "").startswith("TemplateError: "):
            # raise_exception(msg): cachet must report the same message.
            msg = ref["error"][len("TemplateError: "):]
            same = ("template raised an exception: " + msg) in cc["error"]
        if "text" in ref:
            texts += 1
        else:
            errors += 1
        if not same:
            failures += 1
            if failures <= 5:
                print("MISMATCH", json.dumps(label, ensure_ascii=False))
                print("  python:", json.dumps(ref, ensure_ascii=False)[:3000])
                print("  cachet:", json.dumps(cc, ensure_ascii=False)[:3000])
    print("%d requests (%d rendered, %d errors in both expected), %d mismatches"
          % (len(reqs), texts, errors, failures))
    return 1 if failures else 0


def check_cli(args):
    """`cachet template --tokenizer DIR` for each shared tokenizer vs python jinja2."""
    env = make_env()
    with open(os.path.join(args.testdata, "conversations.json"), encoding="utf-8") as f:
        data = json.load(f)
    failures = total = 0
    for cfg in sorted(glob.glob(os.path.join(args.shared, "tokenizers", "*", "tokenizer_config.json"))):
        with open(cfg, encoding="utf-8") as f:
            c = json.load(f)
        lines, refs = [], []
        for messages in data["conversations"].values():
            for agp in (True, False):
                for extra in data["extras"]:
                    req = dict(extra, messages=messages, tools=data["tools"],
                               add_generation_prompt=agp)
                    lines.append(json.dumps(req, ensure_ascii=False))
                    refs.append(render(env, {"template": c["chat_template"], "messages": messages,
                                             "tools": data["tools"], "add_generation_prompt": agp,
                                             "bos_token": token_text(c.get("bos_token")),
                                             "eos_token": token_text(c.get("eos_token")),
                                             "extra": extra}))
        proc = subprocess.run([args.cli, "template", "--tokenizer", os.path.dirname(cfg)],
                              input=("\n".join(lines) + "\n").encode("utf-8"),
                              stdout=subprocess.PIPE, check=True)
        got = [json.loads(l) for l in proc.stdout.decode("utf-8").splitlines()]
        for ref, cc in zip(refs, got):
            total += 1
            ok = ("text" in ref and cc.get("text") == ref["text"]) or ("error" in ref and "error" in cc)
            if not ok:
                failures += 1
                if failures <= 3:
                    print("MISMATCH", cfg, "\n  python:", ref, "\n  cachet:", cc)
        if len(got) != len(refs):
            print("cachet template returned %d lines for %d" % (len(got), len(refs)))
            failures += 1
    print("cachet template: %d requests, %d mismatches" % (total, failures))
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--check", action="store_true")
    p.add_argument("--cli", help="check `PATH template` (the cachet binary) instead")
    p.add_argument("--renderer")
    p.add_argument("--shared")
    p.add_argument("--testdata")
    args = p.parse_args()
    if jinja2 is None:
        print("python3-jinja2 is not installed (use /usr/bin/python3)", file=sys.stderr)
        return 77
    if args.cli:
        return check_cli(args)
    if args.check:
        return check(args)
    env = make_env()
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(render(env, json.loads(line)), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
