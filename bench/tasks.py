"""End-to-end quality of `lgpt run` on the real datasets in ../shared/data (skipped where absent).

Three jobs, each the way a user would run it (the Python front door of `lgpt run`):

- sst2: prompts/sentiment.lgpt (cloze + verbalizer, LoRA) on the embedded MiniLM, trained on the
  first 2,000 rows of SST-2 train, evaluated on its 872-row test split. Target: accuracy >= 0.80.
- conll: prompts/ner.lgpt (token classification) on MiniLM, 2,000 CoNLL-2003 training sentences,
  evaluated on the test split. Target: entity F1 >= 0.60.
- weather: bench/tasks/weather_mr.lgpt on a tiny GPT-2 built here from a config, with a byte-level
  BPE tokenizer trained on the training responses, trained on TreeNLG weather val.tsv, evaluated on the
  first 500 rows of test.tsv. Target: BLEU above the copy-the-input baselines.

Converted data go to a temporary folder, never into the repository. Results: the `tasks` section of
docs/benchmarks.md.

    python bench/tasks.py [--part sst2|conll|weather|all] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import machine_info, write_section  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def run_job(file: Path, train: Path, eval_path: Path, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    from langgpt.runtime.api import run

    started = time.perf_counter()
    result = run(file, train=train, eval=eval_path, output=out, overrides=overrides, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_seconds"] = round(time.perf_counter() - started, 1)
    metrics["trainable"] = result.trainable_parameters
    metrics["total"] = result.total_parameters
    return metrics


# ----------------------------------------------------------------------------- SST-2 and CoNLL


def sst2(work: Path, quick: bool) -> dict[str, Any]:
    folder = DATA / "sst2_alps"
    overrides = {"limit": 200 if quick else 2000, "eval_limit": 200 if quick else None}
    m = run_job(ROOT / "prompts/sentiment.lgpt", folder / "train.tsv", folder / "test.tsv", work / "sst2", overrides)
    return {
        "job": "SST-2 sentiment",
        "command": "lgpt run prompts/sentiment.lgpt --train sst2_alps/train.tsv --limit 2000 --eval sst2_alps/test.tsv",
        "model": "MiniLM (embedded)",
        "method": "lora (r=8, query/value), cloze + verbalizer prototypes",
        "metric": "accuracy",
        "before": m["before"]["accuracy"],
        "after": m["accuracy"],
        "target": 0.80,
        "extra": f"macro-F1 {m['macro_f1']:.3f}",
        "metrics": m,
    }


def conll(work: Path, quick: bool) -> dict[str, Any]:
    folder = DATA / "conll2003"
    overrides = {"limit": 200 if quick else 2000, "eval_limit": 300 if quick else None}
    m = run_job(ROOT / "prompts/ner.lgpt", folder / "train.txt", folder / "test.txt", work / "conll", overrides)
    per_type = ", ".join(f"{t} {v['f1']:.2f}" for t, v in m["per_type"].items())
    return {
        "job": "CoNLL-2003 NER",
        "command": "lgpt run prompts/ner.lgpt --train conll2003/train.txt --limit 2000 --eval conll2003/test.txt",
        "model": "MiniLM (embedded)",
        "method": "full fine-tuning, token classification (BIO)",
        "metric": "entity F1",
        "before": m["before"]["f1"],
        "after": m["f1"],
        "target": 0.60,
        "extra": f"P {m['precision']:.3f} / R {m['recall']:.3f}; per type: {per_type}",
        "metrics": m,
    }


# ----------------------------------------------------------------------------- weather (TreeNLG)

_OPEN = re.compile(r"^\[__(?:DG|DS|ARG)_([A-Z_]+?)__$")


def linearise(tree: str) -> str:
    """`[__DG_INFORM__ [__ARG_TEMP__ 75 ] ]` -> `inform ( temp = 75 )`: names in lower case."""
    out: list[str] = []
    stack: list[bool] = []  # whether each open bracket is a dialogue act (closes with a parenthesis)
    for token in tree.split():
        match = _OPEN.match(token)
        if match:
            name = match.group(1).lower()
            act = token.startswith(("[__DG_", "[__DS_"))
            out.append(f"{name} (" if act else f"{name} =")
            stack.append(act)
        elif token == "]" and stack:
            if stack.pop():
                out.append(")")
            else:
                out.append(";")
        else:
            out.append(token)
    return " ".join(out)


def values_only(tree: str) -> str:
    """The argument values of a meaning representation, in order: the 'copy the data' baseline."""
    return " ".join(t for t in tree.split() if not t.startswith("[__") and t != "]" and not t.startswith("__ARG"))


def plain_response(annotated: str) -> str:
    return " ".join(t for t in annotated.split() if not t.startswith("[__") and t != "]")


def weather_rows(path: Path, limit: int | None) -> list[dict[str, str]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for cells in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(cells) != 4:
                continue
            _, query, tree, response = cells
            rows.append(
                {
                    "query": query,
                    "mr": linearise(tree),
                    "values": values_only(tree),
                    "response": plain_response(response),
                }
            )
            if limit is not None and len(rows) >= limit:
                break
    return rows


def tiny_gpt2(folder: Path, texts: list[str]) -> Path:
    """A small GPT-2 (4 layers, 128 wide) and a byte-level BPE tokenizer trained on ``texts``, built
    by the test suite's tiny-model builder."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tinymodels import build_gpt2

    return build_gpt2(folder, texts, vocab_size=2000, width=128, layers=4, heads=4, seed=0)


def weather(work: Path, quick: bool) -> dict[str, Any]:
    from langgpt.runtime.metrics import generation_metrics

    folder = DATA / "weather_treenlg"
    train_rows = weather_rows(folder / "val.tsv", 300 if quick else None)
    test_rows = weather_rows(folder / "test.tsv", 60 if quick else 500)
    for name, rows in (("train", train_rows), ("test", test_rows)):
        with (work / f"weather_{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({k: row[k] for k in ("query", "mr", "response")}, ensure_ascii=False) + "\n")
    texts = [f"Question: {r['query']}\nData: {r['mr']}\nResponse: {r['response']}" for r in train_rows]
    model = tiny_gpt2(work / "tiny-gpt2", texts)
    references = [r["response"] for r in test_rows]
    copy_mr = generation_metrics([r["mr"] for r in test_rows], references)
    copy_values = generation_metrics([r["values"] for r in test_rows], references)
    overrides: dict[str, Any] = {"model": str(model)}
    if quick:
        overrides["epochs"] = 1
    m = run_job(
        ROOT / "bench/tasks/weather_mr.lgpt",
        work / "weather_train.jsonl",
        work / "weather_test.jsonl",
        work / "weather",
        overrides,
    )
    baseline = max(copy_mr["bleu"], copy_values["bleu"])
    sample = json.loads((work / "weather" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()[0])
    return {
        "job": "TreeNLG weather data-to-text",
        "command": "lgpt run bench/tasks/weather_mr.lgpt --train weather_val.jsonl --eval weather_test.jsonl (first 500) --model tiny-gpt2",
        "model": f"tiny GPT-2 from a config ({m['total']:,} parameters), BPE trained on the training responses",
        "method": "full, loss on the response tokens only, greedy decoding",
        "metric": "BLEU",
        "before": m["before"]["bleu"],
        "after": m["bleu"],
        "target": baseline,
        "extra": (
            f"chrF {m['chrf']:.1f}, perplexity {m['perplexity']:.2f}; copy baselines: the linearised MR "
            f"BLEU {copy_mr['bleu']:.1f} / chrF {copy_mr['chrf']:.1f}, its values alone BLEU {copy_values['bleu']:.1f} / "
            f"chrF {copy_values['chrf']:.1f}. Sample: `{sample['prediction']}` (reference: `{sample['gold']}`)"
        ),
        "metrics": m,
    }


# ----------------------------------------------------------------------------- report

JOBS = {"sst2": sst2, "conll": conll, "weather": weather}
NOTE = (
    "The weather references are delexicalised (TreeNLG writes the city, the temperatures and other values as "
    "`__ARG_CITY__`-style placeholders in the responses) while the meaning representation holds the real values, "
    "so copying the input scores low; the model learns the placeholders and the phrasing. Seconds are wall time "
    "on a 2-core machine other jobs were sharing."
)


def report(results: list[dict[str, Any]], argv: list[str]) -> str:
    info = machine_info()
    lines = [
        "## Training jobs on real data (bench/tasks.py)",
        "",
        ("Command: `python bench/tasks.py " + " ".join(argv)).rstrip() + "`",
        f"Machine: {info['cpu']}, {info['cores']}, {info['python']}, {info['date']}.",
        "",
        "| job | model | method | metric | before training | after training | target | met | train steps, s |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        m = r["metrics"]
        met = "yes" if r["after"] >= r["target"] else "**no**"
        target = f"> {r['target']:.1f} (copy baseline)" if r["metric"] == "BLEU" else f">= {r['target']:.2f}"
        fmt = "{:.1f}" if r["metric"] == "BLEU" else "{:.3f}"
        lines.append(
            f"| {r['job']} | {r['model']} | {r['method']} | {r['metric']} | {fmt.format(r['before'])} | "
            f"{fmt.format(r['after'])} | {target} | {met} | {m['train']['steps']}, {m['train']['seconds']:.0f} |"
        )
    lines.append("")
    for r in results:
        lines.append(f"- **{r['job']}**: `{r['command']}`. {r['extra']}.")
    lines += ["", NOTE]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=[*JOBS, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="a few hundred rows: a smoke test, not the report")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the real datasets are needed for this benchmark)")
        return
    warnings.filterwarnings("ignore")
    names = list(JOBS) if args.part == "all" else [args.part]
    results = []
    with tempfile.TemporaryDirectory(prefix="lgpt-tasks-") as scratch:
        for name in names:
            print(f"== {name}", flush=True)
            result = JOBS[name](Path(scratch), args.quick)
            print(json.dumps({k: v for k, v in result.items() if k != "metrics"}, indent=2), flush=True)
            results.append(result)
    if not args.quick and args.part == "all":
        write_section("tasks", report(results, sys.argv[1:]))
        print("wrote the tasks section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
