"""Tiny models built from configs, with tokenizers trained on the fly (no downloads), for the training
targets' and the runtime's tests: a GPT-2-like causal LM with a byte-level BPE tokenizer, a BERT-like masked
LM with a WordPiece tokenizer and a T5-like seq2seq LM with a sentencepiece-like tokenizer. Each is saved
to a folder, as a user's model would be."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the film was great and the acting was good",
    "a terrible plot and bad dialogue, a waste of time",
    "great phone, the battery lasts for days",
    "the zipper broke, bad quality and terrible service",
    "review sentiment negative positive good bad great terrible",
    "describe the weather: light rain, 9 degrees, moderate wind",
    "Review: Sentiment: Tokens: Tags: Condition: Temperature: Wind: Description:",
] * 20


def build_gpt2(
    folder: Path,
    texts: list[str] | None = None,
    *,
    vocab_size: int = 400,
    width: int = 64,
    layers: int = 2,
    heads: int = 2,
    seed: int | None = None,
) -> Path:
    """A GPT-2 from a config and a byte-level BPE tokenizer trained on ``texts`` (default: CORPUS).
    bench/tasks.py builds its larger weather model with this too."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts or CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<pad>",
        model_max_length=256,
    )
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=256,
        n_embd=width,
        n_layer=layers,
        n_head=heads,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def build_bert(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=256,
    )
    config = BertConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=0,
    )
    model = BertForMaskedLM(config)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def build_t5(folder: Path) -> Path:
    """A T5-like seq2seq LM with a sentencepiece-like tokenizer (BPE over ``▁``-marked words): ``<pad>`` 0, ``</s>`` 1,
    ``<unk>`` 2, an end-of-sequence token appended to every text, decoding starts from ``<pad>``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<pad>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials)
    tok.train_from_iterator(CORPUS, trainer)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=256
    )
    pad = fast.pad_token_id
    config = T5Config(
        vocab_size=fast.vocab_size,
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=pad,
        eos_token_id=fast.eos_token_id,
    )
    config.decoder_start_token_id = pad  # T5's convention: decoding starts from the pad token
    model = T5ForConditionalGeneration(config)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
