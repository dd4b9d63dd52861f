"""Tiny models in the real on-disk formats, generated in a fraction of a second.

The fast tests load these through the real libraries (llama-cpp-python, faster-whisper on CTranslate2,
piper-tts on onnxruntime), so the loading and streaming code is exercised without downloading anything.
Everything is seeded, so every run writes the same bytes. Each library is imported inside its function so
a test pays only for the format it uses.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "GGUF_END_OF_TURN",
    "GGUF_REPLY",
    "GGUF_START_OF_TURN",
    "PIPER_SAMPLES_PER_ID",
    "PIPER_SAMPLE_RATE",
    "make_tiny_gguf",
    "make_tiny_piper_voice",
    "make_tiny_whisper",
]

FloatArray = npt.NDArray[np.float32]

GGUF_START_OF_TURN = "<start_of_turn>"
GGUF_END_OF_TURN = "<end_of_turn>"
GGUF_REPLY = "Hello there. How are you today?"

PIPER_SAMPLE_RATE = 22050
PIPER_SAMPLES_PER_ID = 256

# A simplified Gemma 3 template: the production model is Gemma, so prompts built by the companion go
# through the same turn markers and the same "system folded into the first user turn" rule.
_GEMMA_STYLE_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "<start_of_turn>{{ role }}\n"
    "{{ (first_user_prefix if loop.first else '') + message['content'] }}<end_of_turn>\n"
    # No "-" on the next tags: it would also strip the literal newlines that end each turn.
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> FloatArray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --------------------------------------------------------------------------------------------- GGUF


def make_tiny_gguf(path: Path, reply: str = GGUF_REPLY, end_turn: bool = False) -> Path:
    """Write a 2-layer, width-64 llama GGUF with an SPM byte vocabulary and a Gemma-style chat template.

    Whatever the prompt, it answers ``reply`` one word-token at a time ("Hello", " there.", " How", ...),
    unless the prompt itself ends with one of the reply's words: then it continues from that word.
    By default it then starts over, so only ``max_tokens`` ends a stream; with ``end_turn=True`` it emits
    ``<end_of_turn>`` after the reply instead, and streams stop there on their own.
    """
    import gguf

    words = reply.split()
    if not words:
        raise ValueError("reply must contain at least one word")
    if len(set(words)) != len(words):
        raise ValueError("reply words must be distinct: the model picks the next word from the current one")
    # Word pieces in SentencePiece spelling: "▁" marks a leading space. The first word also exists
    # without it, so a reply starts without a space but repeats of it are separated by one.
    pieces = [words[0]] + ["▁" + w for w in words[1:]] + ["▁" + words[0]]

    tokens: list[str] = ["<unk>", "<s>", "</s>", GGUF_START_OF_TURN, GGUF_END_OF_TURN, "<pad>"]
    types: list[gguf.TokenType] = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 5
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    # Without a "▁" piece llama.cpp's SPM tokenizer spells every prompt space as three UTF-8 byte tokens.
    tokens.append("▁")
    types.append(gguf.TokenType.NORMAL)
    # llama.cpp's SPM tokenizer grows a token only through merges whose result is in the vocabulary, so
    # every prefix of a word piece is in it too: re-tokenizing a reply then gives back one token per
    # piece, as with a real model (callers count tokens that way). A prompt ending in a reply word
    # therefore continues the reply from there, like a real language model would.
    prefixes = [piece[:end] for piece in pieces for end in range(2, len(piece) + 1)]
    for token in dict.fromkeys(prefixes):
        if token not in tokens:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    # Longer pieces score higher, matching how SentencePiece vocabularies rank merges.
    scores = [
        float(len(token)) if kind == gguf.TokenType.NORMAL else 0.0
        for token, kind in zip(tokens, types, strict=True)
    ]
    ids = {token: i for i, token in enumerate(tokens)}
    end_of_turn = ids[GGUF_END_OF_TURN]

    # (current token, next token): the reply as a chain, entered from any token that is not a word piece.
    chain = [ids[p] for p in pieces[:-1]]
    edges = list(itertools.pairwise(chain))
    edges.append((chain[-1], end_of_turn if end_turn else ids[pieces[-1]]))
    if not end_turn:
        edges.append((ids[pieces[-1]], chain[1] if len(chain) > 1 else ids[pieces[-1]]))

    n_layers, n_heads = 2, 4
    n_embd = 64 * math.ceil((len(edges) + 1) / 64)
    n_ff, n_ctx = 2 * n_embd, 2048
    rng = np.random.default_rng(20240901)

    # Each chain token owns one hidden dimension; every other token shares the last one. The layers are
    # random but their outputs are scaled to ~1e-3, so the final state (and so the next token) depends
    # on the current token only: the answer is deterministic even with sampling, as logits differ by ~30.
    other = n_embd - 1
    embd = np.zeros((len(tokens), n_embd), dtype=np.float32)
    embd[:, other] = 10.0
    output = np.zeros((len(tokens), n_embd), dtype=np.float32)
    output[chain[0], other] = 4.0
    for dim, (source, target) in enumerate(edges):
        embd[source] = 0.0
        embd[source, dim] = 10.0
        output[target, dim] = 4.0

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("companion-tiny-test-llama")
    writer.add_context_length(n_ctx)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_heads)
    writer.add_head_count_kv(n_heads)
    writer.add_rope_dimension_count(n_embd // n_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_scores(scores)
    writer.add_bos_token_id(ids["<s>"])
    # EOS is the end-of-turn marker, as in chat-tuned Gemma exports: llama-cpp-python's chat handler
    # stops on the EOS token's text, so both completion and chat streams end at the end of a turn.
    writer.add_eos_token_id(end_of_turn)
    writer.add_eot_token_id(end_of_turn)
    writer.add_unk_token_id(ids["<unk>"])
    writer.add_pad_token_id(ids["<pad>"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(_GEMMA_STYLE_CHAT_TEMPLATE)

    writer.add_tensor("token_embd.weight", embd)
    for layer in range(n_layers):
        prefix = f"blk.{layer}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v"):
            writer.add_tensor(f"{prefix}.{name}.weight", _normal(rng, (n_embd, n_embd), 0.1))
        writer.add_tensor(f"{prefix}.attn_output.weight", _normal(rng, (n_embd, n_embd), 1e-3))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", _normal(rng, (n_ff, n_embd), 0.1))
        writer.add_tensor(f"{prefix}.ffn_up.weight", _normal(rng, (n_ff, n_embd), 0.1))
        writer.add_tensor(f"{prefix}.ffn_down.weight", _normal(rng, (n_embd, n_ff), 1e-3))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# ------------------------------------------------------------------------------------------ Whisper


def _gpt2_byte_chars() -> list[str]:
    # The printable-character alias of each byte used by GPT-2/Whisper byte-level BPE vocabularies.
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars: dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def make_tiny_whisper(
    directory: Path, phrase: str = "hello there", multilingual: bool = True, language: str | None = None
) -> Path:
    """Write a CTranslate2 Whisper model (int8) plus tokenizer.json that transcribes any audio as ``phrase``.

    ``language`` is what language detection (``transcribe(language=None)``) reports, "en" if not given;
    an explicit ``transcribe(language=...)`` is used as given, as with any multilingual Whisper.
    """
    import ctranslate2
    import tokenizers
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    words = phrase.split()
    if not words:
        raise ValueError("phrase must contain at least one word: Whisper suppresses an immediate end")
    detected = language or "en"
    if multilingual and detected not in _LANGUAGE_CODES:
        raise ValueError(f"unknown Whisper language {detected!r}")
    if not multilingual and detected != "en":
        raise ValueError("an English-only Whisper model can only detect 'en'")

    byte_chars = _gpt2_byte_chars()

    def byte_level(text: str) -> str:
        return "".join(byte_chars[b] for b in text.encode("utf-8"))

    # One vocabulary entry per word: the decoder below maps "current token -> next token", so a repeated
    # word would be ambiguous; then the whole phrase becomes a single token instead.
    pieces = [byte_level(" " + w) for w in words]
    if len(set(pieces)) != len(pieces):
        pieces = [byte_level(" " + " ".join(words))]

    text_tokens = list(byte_chars)
    if multilingual:
        # CTranslate2 >= 4.7 only treats a Whisper vocabulary as multilingual if it holds "".
        text_tokens.append("")
    text_tokens += pieces
    language_tokens = [f"<|{code}|>" for code in _LANGUAGE_CODES] if multilingual else []
    # Whisper's special-token order matters: timestamp ids are computed as <|notimestamps|> + 1 + i.
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *language_tokens,
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]
    timestamps = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]
    vocabulary = text_tokens + specials + timestamps
    ids = {token: i for i, token in enumerate(vocabulary)}

    sot, eot = ids["<|startoftranscript|>"], ids["<|endoftext|>"]
    no_timestamps, transcribe, first_timestamp = (
        ids["<|notimestamps|>"],
        ids["<|transcribe|>"],
        ids["<|0.00|>"],
    )
    text_ids = [ids[p] for p in pieces]
    # (current token, next token, strength): greedy and beam search both follow the strongest edge.
    # With timestamps on, CTranslate2 masks <|notimestamps|>, so <|startoftranscript|> has a weaker
    # second edge to <|0.00|> for English-only models whose prompt ends right after it.
    edges: list[tuple[int, int, float]] = [
        (sot, ids[f"<|{detected}|>"] if multilingual else no_timestamps, 4.0),
        (transcribe, first_timestamp, 4.0),
        (first_timestamp, text_ids[0], 4.0),
        (no_timestamps, text_ids[0], 4.0),
        *[(a, b, 4.0) for a, b in itertools.pairwise(text_ids)],
        (text_ids[-1], eot, 4.0),
    ]
    if not multilingual:
        edges.append((sot, first_timestamp, 2.0))
    sources = sorted({source for source, _, _ in edges})
    n_state = 64 * math.ceil(len(sources) / 64)
    n_heads, n_layers, n_mels, n_vocab = 4, 2, 80, len(vocabulary)
    rng = np.random.default_rng(16000)

    # Each source token owns one hidden dimension. Attention and FFN outputs are scaled to ~1e-4, so the
    # decoder's final state (and so its next token) depends only on the current token, never on audio.
    embeddings = np.zeros((n_vocab, n_state), dtype=np.float32)
    projection = np.zeros((n_vocab, n_state), dtype=np.float32)
    for source, target, strength in edges:
        dim = sources.index(source)
        embeddings[source, dim] = 10.0
        projection[target, dim] = strength

    def layer_norm(spec: Any) -> None:
        spec.gamma = np.ones(n_state, dtype=np.float32)
        spec.beta = np.zeros(n_state, dtype=np.float32)

    def linear(spec: Any, n_out: int, n_in: int, scale: float = 0.02) -> None:
        spec.weight = _normal(rng, (n_out, n_in), scale)
        spec.bias = np.zeros(n_out, dtype=np.float32)

    spec = ctranslate2.specs.WhisperSpec(n_layers, n_heads, n_layers, n_heads)
    encoder = spec.encoder
    encoder.conv1.weight = _normal(rng, (n_state, n_mels, 3), 0.1)
    encoder.conv1.bias = np.zeros(n_state, dtype=np.float32)
    encoder.conv2.weight = _normal(rng, (n_state, n_state, 3), 0.1)
    encoder.conv2.bias = np.zeros(n_state, dtype=np.float32)
    encoder.position_encodings.encodings = _normal(rng, (1500, n_state), 0.02)
    layer_norm(encoder.layer_norm)
    for enc_layer in encoder.layer:
        layer_norm(enc_layer.self_attention.layer_norm)
        linear(enc_layer.self_attention.linear[0], 3 * n_state, n_state)
        linear(enc_layer.self_attention.linear[1], n_state, n_state)
        layer_norm(enc_layer.ffn.layer_norm)
        linear(enc_layer.ffn.linear_0, 4 * n_state, n_state)
        linear(enc_layer.ffn.linear_1, n_state, 4 * n_state)

    decoder = spec.decoder
    decoder.embeddings.weight = embeddings
    decoder.position_encodings.encodings = np.zeros((448, n_state), dtype=np.float32)
    layer_norm(decoder.layer_norm)
    for dec_layer in decoder.layer:
        layer_norm(dec_layer.self_attention.layer_norm)
        linear(dec_layer.self_attention.linear[0], 3 * n_state, n_state)
        linear(dec_layer.self_attention.linear[1], n_state, n_state, 1e-4)
        layer_norm(dec_layer.attention.layer_norm)
        linear(dec_layer.attention.linear[0], n_state, n_state)
        linear(dec_layer.attention.linear[1], 2 * n_state, n_state)
        linear(dec_layer.attention.linear[2], n_state, n_state, 1e-4)
        layer_norm(dec_layer.ffn.layer_norm)
        linear(dec_layer.ffn.linear_0, 4 * n_state, n_state)
        linear(dec_layer.ffn.linear_1, n_state, 4 * n_state, 1e-4)
    decoder.projection.weight = projection

    spec.register_vocabulary(vocabulary)
    config = spec.config
    config.suppress_ids = []
    config.suppress_ids_begin = [ids[byte_chars[ord(" ")]], eot]
    config.lang_ids = [ids[token] for token in language_tokens]
    config.alignment_heads = [(n_layers - 1, head) for head in range(n_heads)]
    spec.validate()
    spec.optimize(quantization="int8")
    directory.mkdir(parents=True, exist_ok=True)
    spec.save(str(directory))

    # Without tokenizer.json faster-whisper downloads openai/whisper-tiny's tokenizer from the network.
    # No merges: encoding (only used for prompts and the non-speech suppression list) falls back to
    # single bytes, while decoding maps our word ids straight back to their text.
    bpe = tokenizers.models.BPE(vocab={token: i for i, token in enumerate(text_tokens)}, merges=[])
    tokenizer = tokenizers.Tokenizer(bpe)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    tokenizer.add_special_tokens(specials + timestamps)
    for token in (*specials, timestamps[0], timestamps[-1]):
        if tokenizer.token_to_id(token) != ids[token]:
            raise AssertionError(f"tokenizer.json id of {token} does not match the model vocabulary")
    tokenizer.save(str(directory / "tokenizer.json"))
    return directory


# -------------------------------------------------------------------------------------------- Piper

_PIPER_LANGUAGES: dict[str, dict[str, str]] = {
    "en": {
        "espeak": "en-us",
        "code": "en_US",
        "family": "en",
        "region": "US",
        "name_native": "English",
        "name_english": "English",
        "country_english": "United States",
    },
    "da": {
        "espeak": "da",
        "code": "da_DK",
        "family": "da",
        "region": "DK",
        "name_native": "Dansk",
        "name_english": "Danish",
        "country_english": "Denmark",
    },
}


def _piper_tone_graph() -> Any:
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, value: Any, dtype: Any) -> Any:
        return helper.make_node(
            "Constant", [], [name], value=helper.make_tensor(name + "_value", dtype, [], [value])
        )

    nodes = [
        const("one_i", 1, TensorProto.INT64),
        const("zero_i", 0, TensorProto.INT64),
        const("hop", float(PIPER_SAMPLES_PER_ID), TensorProto.FLOAT),
        const("phase_step", 2.0 * math.pi * 220.0 / PIPER_SAMPLE_RATE, TensorProto.FLOAT),
        const("amplitude", 0.5, TensorProto.FLOAT),
        helper.make_node("Shape", ["input"], ["input_shape"]),
        helper.make_node("Gather", ["input_shape", "one_i"], ["n_ids"], axis=0),
        helper.make_node("Cast", ["n_ids"], ["n_ids_f"], to=TensorProto.FLOAT),
        # scales = [noise_scale, length_scale, noise_w]; honouring length_scale like a real voice lets
        # tests check that a slower speaking rate gives longer audio.
        helper.make_node("Gather", ["scales", "one_i"], ["length_scale"], axis=0),
        helper.make_node("Mul", ["n_ids_f", "hop"], ["samples_unscaled"]),
        helper.make_node("Mul", ["samples_unscaled", "length_scale"], ["samples_f"]),
        helper.make_node("Floor", ["samples_f"], ["samples_floor"]),
        helper.make_node("Cast", ["samples_floor"], ["n_samples"], to=TensorProto.INT64),
        helper.make_node("Range", ["zero_i", "n_samples", "one_i"], ["sample_index"]),
        helper.make_node("Cast", ["sample_index"], ["sample_index_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["sample_index_f", "phase_step"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        helper.make_node("Mul", ["wave", "amplitude"], ["tone"]),
        helper.make_node(
            "Constant",
            [],
            ["output_shape"],
            value=helper.make_tensor("output_shape_value", TensorProto.INT64, [3], [1, 1, -1]),
        ),
        helper.make_node("Reshape", ["tone", "output_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_piper_tone",
        inputs=[
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
            # Declared but unused: piper always feeds it, and onnxruntime rejects undeclared feeds.
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
        ],
        outputs=[helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "time"])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="companion-tests"
    )
    # Older onnxruntime builds (as on a Pi) refuse IR versions newer than they know; 8 matches opset 13.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_tiny_piper_voice(directory: Path, language: str = "en") -> Path:
    """Write a piper voice (.onnx + .onnx.json) that sings a 220 Hz tone, 256 samples per phoneme id.

    The output length scales with ``SynthesisConfig.length_scale`` as a real voice's does.
    """
    import onnx
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    if language not in _PIPER_LANGUAGES:
        raise ValueError(f"no tiny piper voice for language {language!r}; known: {sorted(_PIPER_LANGUAGES)}")
    lang = _PIPER_LANGUAGES[language]
    directory.mkdir(parents=True, exist_ok=True)
    onnx_path = directory / f"{lang['code']}-tiny-x_low.onnx"
    onnx.save(_piper_tone_graph(), str(onnx_path))

    config = {
        "dataset": "tiny",
        "audio": {"sample_rate": PIPER_SAMPLE_RATE, "quality": "x_low"},
        "espeak": {"voice": lang["espeak"]},
        "language": {k: v for k, v in lang.items() if k != "espeak"},
        "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "num_symbols": 256,
        "num_speakers": 1,
        "speaker_id_map": {},
        "hop_length": PIPER_SAMPLES_PER_ID,
        "piper_version": "1.0.0",
    }
    Path(f"{onnx_path}.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return onnx_path


NEMO_CTC_TOKENS = ("<unk>", "▁hej", "▁kaffe", "▁tak", "<blk>")
NEMO_CTC_WORD = "kaffe"
"""What the tiny NeMo CTC model hears in any sound: its bias makes that token win every frame."""


def make_tiny_nemo_ctc(directory: Path) -> Path:
    """A NeMo CTC model as sherpa-onnx loads it (model.onnx with its metadata, tokens.txt, blank last): the
    80 filterbank features of each frame times zero weights plus a bias, so "kaffe" wins every frame."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    size = len(NEMO_CTC_TOKENS)
    bias = np.zeros(size, dtype=np.float32)
    bias[NEMO_CTC_TOKENS.index(f"▁{NEMO_CTC_WORD}")] = 5.0
    nodes = [
        helper.make_node("Transpose", ["audio_signal"], ["frames"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["frames", "weights"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["biased"]),
        helper.make_node("LogSoftmax", ["biased"], ["logprobs"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_nemo_ctc",
        [
            helper.make_tensor_value_info("audio_signal", TensorProto.FLOAT, ["B", 80, "T"]),
            helper.make_tensor_value_info("length", TensorProto.INT64, ["B"]),
        ],
        [helper.make_tensor_value_info("logprobs", TensorProto.FLOAT, ["B", "T", size])],
        initializer=[
            numpy_helper.from_array(np.zeros((80, size), dtype=np.float32), "weights"),
            numpy_helper.from_array(bias, "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {
        "vocab_size": str(size),
        "subsampling_factor": "1",
        "normalize_type": "per_feature",
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(directory / "model.onnx"))
    (directory / "tokens.txt").write_text(
        "".join(f"{token} {number}\n" for number, token in enumerate(NEMO_CTC_TOKENS)), encoding="utf-8"
    )
    return directory
