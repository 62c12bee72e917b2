"""Issue done-criterion, end to end: prompts/sentiment.lgpt + SST-2 rows compile to a dataset, a
verbalizer and a prompt-tuning adapter, for MiniLM and a tiny GPT-2, and the adapter trains on the
compiled rows. Uses ../shared/data (skipped where absent); nothing from it is copied."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import langgpt  # noqa: E402
from langgpt.training import compile_dataset, compile_peft, compile_verbalizer, load_adapter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "sst2_alps" / "train.tsv"
pytestmark = pytest.mark.skipif(not SST2.is_file(), reason="../shared/data/sst2_alps is absent")


@pytest.fixture(scope="module")
def sst2_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sst2") / "rows.tsv"
    with SST2.open(encoding="utf-8") as handle:
        path.write_text("".join(islice(handle, 201)), encoding="utf-8")  # header + 200 rows
    return path


@pytest.mark.parametrize("model", ["minilm", "gpt2"])
def test_sentiment_compiles_to_dataset_verbalizer_and_trainable_adapter(
    model: str, gpt2_dir: str, sst2_rows: Path, tmp_path: Path
) -> None:
    where = gpt2_dir if model == "gpt2" else "minilm"
    program = langgpt.load(ROOT / "prompts" / "sentiment.lgpt", root=ROOT.parent)

    result = compile_dataset(
        program, data=sst2_rows, output=tmp_path / "ds.jsonl", entry="classify_text", model=where, progress=False
    )
    rows = [json.loads(line) for line in (tmp_path / "ds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert result.rows == len(rows) == 200 and result.rejected == 0
    assert {r["label"] for r in rows} == {0, 1}
    assert all(r["target"] in ("terrible", "great") for r in rows)  # the first label word
    assert all(len(r["input_ids"]) == len(r["attention_mask"]) for r in rows)

    verbalizer = json.loads(compile_verbalizer(program, model=where).output)
    assert [label["label"] for label in verbalizer["labels"]] == ["negative", "positive"]

    adapter = compile_peft(program, output=tmp_path / "adapter", model=where)
    assert adapter.method == "prompt_tuning" and adapter.tokens == 20
    from langgpt.hf import load_model

    kind = "causal" if model == "gpt2" else "sequence_classification"
    base = load_model(where, kind, **({} if model == "gpt2" else {"num_labels": 2}))
    trained = load_adapter(base, tmp_path / "adapter", trainable=True)
    trained.train()
    batch = rows[:4]
    width = min(max(len(r["input_ids"]) for r in batch), 200)  # tiny GPT-2 has 256 positions, 20 are virtual
    pad = 0

    def padded(key: str, fill: int) -> Any:
        return torch.tensor([r[key][:width] + [fill] * (width - len(r[key][:width])) for r in batch])

    inputs = {"input_ids": padded("input_ids", pad), "attention_mask": padded("attention_mask", 0)}
    if model == "gpt2":
        inputs["labels"] = padded("labels", -100)
        inputs["labels"][:, -1] = inputs["input_ids"][
            :, -1
        ]  # cut rows lose their target: keep one position in the loss
    else:
        inputs["labels"] = torch.tensor([r["label"] for r in batch])
    before = {n: p.detach().clone() for n, p in trained.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in trained.parameters() if p.requires_grad], lr=1e-2)
    loss = trained(**inputs).loss
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    changed = [n for n, p in trained.named_parameters() if p.requires_grad and not torch.equal(p.detach(), before[n])]
    assert any("prompt_encoder" in n for n in changed), "the soft prompt did not train"
