"""Audiocraft-format fine-tunes, converted on load: tiny random MusicGens written
out as audiocraft's export writes them (state_dict.bin with its xp.cfg, and a
compression_state_dict.bin pointing at a pretrained EnCodec), loaded back with
load_audiocraft and run against the model they came from."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from transformers import AutoTokenizer, MusicgenForConditionalGeneration, T5EncoderModel

from sparrow_common.engine import ModelUnavailable
from sparrow_common.params import Knobs
from sparrow_common.testing.clips import make_clip
from sparrow_common.audio import decode
from sparrow_generation.domain import Continuation
from sparrow_generation.engine.audiocraft import is_audiocraft, load_audiocraft
from sparrow_generation.engine.musicgen import MusicGenEngine
from sparrow_generation.engine.tiny import TINY, build_random_musicgen

T5_NAME = "t5-base"
CODEC_NAME = "facebook/encodec_32khz"
DEC = "decoder.model.decoder"
TEXTS = ["warm lofi drums", "calm sparse piano with a slower tempo"]


# -- writing audiocraft's layout (the inverse of the loader, by hand) ---------


def audiocraft_state(
    model: MusicgenForConditionalGeneration, with_t5: bool = False
) -> dict[str, torch.Tensor]:
    """The source model's weights under the names audiocraft's LMModel gives them
    (custom attention: packed q/k/v in in_proj_weight, no biases, pre-norm)."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    config = model.config.decoder
    out: dict[str, torch.Tensor] = {}
    for k in range(config.num_codebooks):
        out[f"emb.{k}.weight"] = sd[f"{DEC}.embed_tokens.{k}.weight"]
        out[f"linears.{k}.weight"] = sd[f"decoder.lm_heads.{k}.weight"]
    for i in range(config.num_hidden_layers):
        ours, theirs = f"{DEC}.layers.{i}", f"transformer.layers.{i}"
        for attention, source in (("self_attn", "self_attn"), ("cross_attention", "encoder_attn")):
            out[f"{theirs}.{attention}.in_proj_weight"] = torch.cat(
                [sd[f"{ours}.{source}.{p}_proj.weight"] for p in "qkv"]
            )
            out[f"{theirs}.{attention}.out_proj.weight"] = sd[f"{ours}.{source}.out_proj.weight"]
        out[f"{theirs}.linear1.weight"] = sd[f"{ours}.fc1.weight"]
        out[f"{theirs}.linear2.weight"] = sd[f"{ours}.fc2.weight"]
        for norm, source in (
            ("norm1", "self_attn_layer_norm"),
            ("norm_cross", "encoder_attn_layer_norm"),
            ("norm2", "final_layer_norm"),
        ):
            for part in ("weight", "bias"):
                out[f"{theirs}.{norm}.{part}"] = sd[f"{ours}.{source}.{part}"]
    for part in ("weight", "bias"):
        out[f"out_norm.{part}"] = sd[f"{DEC}.layer_norm.{part}"]
    projection = "condition_provider.conditioners.description.output_proj"
    if "enc_to_dec_proj.weight" in sd:
        out[f"{projection}.weight"], out[f"{projection}.bias"] = (
            sd["enc_to_dec_proj.weight"],
            sd["enc_to_dec_proj.bias"],
        )
    else:  # T5 as wide as the decoder: transformers has no projection, audiocraft an identity one
        out[f"{projection}.weight"] = torch.eye(config.hidden_size, model.config.text_encoder.d_model)
        out[f"{projection}.bias"] = torch.zeros(config.hidden_size)
    if with_t5:
        for key, value in sd.items():
            if key.startswith("text_encoder."):
                out[f"condition_provider.conditioners.description.t5.{key.removeprefix('text_encoder.')}"] = (
                    value
                )
    return out


def xp_cfg(model: MusicgenForConditionalGeneration) -> dict:
    """A merged MusicGen training config as dora dumps it (musicgen_base_32khz +
    musicgen_lm + text2music), sized to the source model."""
    config = model.config.decoder
    stereo = config.audio_channels == 2
    return {
        "solver": "musicgen",
        "sample_rate": 32000,
        "channels": config.audio_channels,
        "compression_model_checkpoint": f"//pretrained/{CODEC_NAME}",
        "compression_model_n_q": None,
        "interleave_stereo_codebooks": {"use": stereo, "per_timestep": False},
        "lm_model": "transformer_lm",
        "codebooks_pattern": {
            "modeling": "delay",
            "delay": {
                "delays": [k // config.audio_channels for k in range(config.num_codebooks)],
                "flatten_first": 0,
                "empty_initial": 0,
            },
            "unroll": {"flattening": [0, 1, 2, 3], "delays": [0, 0, 0, 0]},
            "music_lm": {"group_by": 2},
            "coarse_first": {"delays": [0, 0, 0]},
        },
        "transformer_lm": {
            "dim": config.hidden_size,
            "num_heads": config.num_attention_heads,
            "num_layers": config.num_hidden_layers,
            "hidden_scale": config.ffn_dim // config.hidden_size,
            "n_q": config.num_codebooks,
            "card": config.vocab_size,
            "dropout": 0.0,
            "emb_lr": None,
            "activation": "gelu",
            "norm_first": True,
            "bias_ff": False,
            "bias_attn": False,
            "bias_proj": False,
            "past_context": None,
            "causal": True,
            "custom": False,
            "memory_efficient": True,
            "attention_as_float32": False,
            "layer_scale": None,
            "positional_embedding": "sin",
            "xpos": False,
            "checkpointing": "none",
            "weight_init": "gaussian",
            "depthwise_init": "current",
            "zero_bias_init": True,
            "norm": "layer_norm",
            "cross_attention": False,
            "qk_layer_norm": False,
            "qk_layer_norm_cross": False,
            "attention_dropout": None,
            "kv_repeat": 1,
            "two_step_cfg": False,
        },
        "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
        "attribute_dropout": {},
        "fuser": {
            "cross_attention_pos_emb": False,
            "cross_attention_pos_emb_scale": 1,
            "sum": [],
            "prepend": [],
            "cross": ["description"],
            "input_interpolate": [],
        },
        "conditioners": {
            "description": {
                "model": "t5",
                "t5": {"name": T5_NAME, "finetune": False, "word_dropout": 0.3, "normalize_text": False},
            }
        },
        "dataset": {"segment_duration": 30, "batch_size": 192},
        "generate": {"audio": {"sample_rate": "${sample_rate}"}},
    }


def set_setting(cfg: dict, dotted: str, value) -> dict:
    cfg = copy.deepcopy(cfg)
    *parents, last = dotted.split(".")
    node = cfg
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return cfg


def write_export(folder, state: dict, cfg: dict, codec: dict | None = None):
    """What export_lm and export_pretrained_compression_model write."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "best_state": state,
            "xp.cfg": yaml.safe_dump(cfg, sort_keys=False),
            "version": "1.3.0",
            "exported": True,
        },
        folder / "state_dict.bin",
    )
    codec = codec if codec is not None else {"pretrained": CODEC_NAME, "exported": True, "version": "1.3.0"}
    torch.save(codec, folder / "compression_state_dict.bin")
    return folder


class Source:
    """A tiny random MusicGen, its T5 and EnCodec saved where `locate` finds them
    by hub name, and its audiocraft export."""

    def __init__(self, root, stereo: bool = False, sizes: dict | None = None):
        folder = build_random_musicgen(root / "hf", sizes=sizes, stereo=stereo, seed=3 if stereo else 1)
        self.model = MusicgenForConditionalGeneration.from_pretrained(folder).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.named = {T5_NAME: root / "hub" / T5_NAME, CODEC_NAME: root / "hub" / CODEC_NAME}
        self.model.text_encoder.save_pretrained(self.named[T5_NAME])
        self.tokenizer.save_pretrained(self.named[T5_NAME])
        self.model.audio_encoder.save_pretrained(self.named[CODEC_NAME])
        self.root = root
        self.cfg = xp_cfg(self.model)
        self.export = write_export(root / "export", audiocraft_state(self.model), self.cfg)

    def locate(self, name: str) -> str:
        if name not in self.named:
            raise ModelUnavailable(f"no such model {name}")
        return str(self.named[name])


@pytest.fixture(scope="module")
def mono(tmp_path_factory):
    # T5 narrower than the decoder, as in the released models: audiocraft's
    # output_proj becomes transformers' enc_to_dec_proj.
    sizes = copy.deepcopy(TINY)
    sizes["text_encoder"].update(d_model=8, d_kv=4, d_ff=16)
    return Source(tmp_path_factory.mktemp("mono"), sizes=sizes)


@pytest.fixture(scope="module")
def mono_loaded(mono):
    asked = []  # what the loader asked locate for, in order
    model, tokenizer = load_audiocraft(mono.export, lambda name: asked.append(name) or mono.locate(name))
    model.asked_to_locate = asked
    return model, tokenizer


@pytest.fixture(scope="module")
def stereo(tmp_path_factory):
    return Source(tmp_path_factory.mktemp("stereo"), stereo=True)


def logits(model, tokenizer, codes: torch.Tensor, texts=TEXTS) -> torch.Tensor:
    """(batch, codebooks, steps, card) decoder logits for `codes` (batch, codebooks, steps)."""
    text = tokenizer(texts, padding=True, return_tensors="pt")
    batch, codebooks, steps = codes.shape
    with torch.inference_mode():
        out = model(**text, decoder_input_ids=codes.reshape(batch * codebooks, steps)).logits
    return out.reshape(batch, codebooks, steps, -1)


def random_codes(model, batch: int, steps: int = 12, seed: int = 0) -> torch.Tensor:
    config = model.config.decoder
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, config.vocab_size, (batch, config.num_codebooks, steps), generator=generator)
    codes[:, :, 0] = config.bos_token_id  # every codebook starts on the special token, as in decoding
    return codes


# -- the tests ---------------------------------------------------------------


def test_a_converted_fine_tune_predicts_exactly_what_the_model_it_came_from_predicts(mono, mono_loaded):
    model, tokenizer = mono_loaded
    assert isinstance(model, MusicgenForConditionalGeneration) and not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert hasattr(model, "enc_to_dec_proj")
    assert (model.config.decoder.num_codebooks, model.config.decoder.audio_channels) == (4, 1)
    assert model.generation_config.decoder_start_token_id == mono.model.config.decoder.vocab_size
    assert model.generation_config.guidance_scale == 3.0
    assert tokenizer(TEXTS[1]).input_ids == mono.tokenizer(TEXTS[1]).input_ids
    assert model.asked_to_locate == [T5_NAME, CODEC_NAME]

    codes = random_codes(model, batch=2)
    assert torch.equal(logits(model, tokenizer, codes), logits(mono.model, mono.tokenizer, codes))
    # The codes decode to the same audio: EnCodec is the pretrained one.
    frames = codes[:1, None, :, 1:]
    with torch.inference_mode():
        heard = model.audio_encoder.decode(frames, [None]).audio_values
        expected = mono.model.audio_encoder.decode(frames, [None]).audio_values
    assert heard.abs().max() > 0 and torch.equal(heard, expected)


def audiocraft_reference(
    state: dict, cfg: dict, text_states: torch.Tensor, codes: torch.Tensor
) -> torch.Tensor:
    """The LM as audiocraft computes it, written from its modules' description
    (summed code embeddings, sinusoids cos|sin, pre-norm layers with packed q/k/v,
    cross-attention to the projected description, out_norm, one head per
    codebook), on audiocraft's own state dict. (batch, codebooks, steps, card)."""
    lm = cfg["transformer_lm"]
    dim, heads, layers, n_q = lm["dim"], lm["num_heads"], lm["num_layers"], lm["n_q"]
    head_dim = dim // heads
    x = sum(F.embedding(codes[:, k], state[f"emb.{k}.weight"]) for k in range(n_q))
    steps, half = x.shape[1], dim // 2
    phase = torch.arange(steps, dtype=torch.float32).view(1, -1, 1) / (
        torch.tensor(10000.0) ** (torch.arange(half, dtype=torch.float32).view(1, 1, -1) / (half - 1))
    )
    x = x + torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
    projection = "condition_provider.conditioners.description.output_proj"
    memory = F.linear(text_states, state[f"{projection}.weight"], state[f"{projection}.bias"])

    def attend(queries, keys_values, packed, out_weight, causal):
        q, k, v = (
            F.linear(src, w)
            for src, w in zip((queries, keys_values, keys_values), packed.chunk(3), strict=True)
        )
        q, k, v = (t.reshape(t.shape[0], t.shape[1], heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / head_dim**0.5
        if causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), float("-inf"))
        mixed = (scores.softmax(-1) @ v).transpose(1, 2).reshape(queries.shape)
        return F.linear(mixed, out_weight)

    def norm(y, name):
        return F.layer_norm(y, (dim,), state[f"{name}.weight"], state[f"{name}.bias"], eps=1e-5)

    for i in range(layers):
        layer = f"transformer.layers.{i}"
        y = norm(x, f"{layer}.norm1")
        x = x + attend(
            y,
            y,
            state[f"{layer}.self_attn.in_proj_weight"],
            state[f"{layer}.self_attn.out_proj.weight"],
            causal=True,
        )
        y = norm(x, f"{layer}.norm_cross")
        x = x + attend(
            y,
            memory,
            state[f"{layer}.cross_attention.in_proj_weight"],
            state[f"{layer}.cross_attention.out_proj.weight"],
            causal=False,
        )
        y = norm(x, f"{layer}.norm2")
        x = x + F.linear(
            F.gelu(F.linear(y, state[f"{layer}.linear1.weight"])), state[f"{layer}.linear2.weight"]
        )
    x = norm(x, "out_norm")
    return torch.stack([F.linear(x, state[f"linears.{k}.weight"]) for k in range(n_q)], dim=1)


def test_the_converted_model_computes_what_audiocraft_computes_from_the_same_state(mono, mono_loaded):
    model, tokenizer = mono_loaded
    state = torch.load(mono.export / "state_dict.bin", weights_only=True)["best_state"]
    codes = random_codes(model, batch=1, seed=5)
    text = tokenizer(TEXTS[:1], return_tensors="pt")
    with torch.inference_mode():
        text_states = model.text_encoder(**text).last_hidden_state
        expected = audiocraft_reference(state, mono.cfg, text_states, codes)
    got = logits(model, tokenizer, codes, TEXTS[:1])
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()


def test_a_converted_fine_tune_never_hears_the_future(mono_loaded):
    model, tokenizer = mono_loaded
    assert model.config.decoder._attn_implementation in ("sdpa", "eager")
    codes = random_codes(model, batch=2, seed=7)
    changed = codes.clone()
    changed[:, :, 8:] = (changed[:, :, 8:] + 1) % model.config.decoder.vocab_size
    before, after = logits(model, tokenizer, codes), logits(model, tokenizer, changed)
    assert torch.allclose(before[:, :, :8], after[:, :, :8], atol=1e-6, rtol=0)
    assert not torch.allclose(before[:, :, 8:], after[:, :, 8:], atol=1e-3)


def test_stereo_fine_tunes_keep_audiocrafts_interleaved_codebooks(stereo):
    # TINY's T5 is as wide as its decoder, so transformers has no text
    # projection: audiocraft's (identity) output_proj is folded into cross-attention.
    model, tokenizer = load_audiocraft(stereo.export, stereo.locate)
    assert (model.config.decoder.num_codebooks, model.config.decoder.audio_channels) == (8, 2)
    assert not hasattr(model, "enc_to_dec_proj")
    codes = random_codes(model, batch=2, seed=11)
    assert torch.equal(logits(model, tokenizer, codes), logits(stereo.model, stereo.tokenizer, codes))


def test_a_fine_tuned_t5_comes_from_the_state_not_from_its_name(mono, tmp_path):
    # The T5 found by name has other weights: the state's own must win.
    other = T5EncoderModel(mono.model.config.text_encoder)
    other.save_pretrained(tmp_path / "other-t5")
    mono.tokenizer.save_pretrained(tmp_path / "other-t5")
    cfg = set_setting(mono.cfg, "conditioners.description.t5.finetune", True)
    export = write_export(tmp_path / "export", audiocraft_state(mono.model, with_t5=True), cfg)
    model, tokenizer = load_audiocraft(
        export, lambda name: str(tmp_path / "other-t5") if name == T5_NAME else mono.locate(name)
    )
    codes = random_codes(model, batch=2, seed=13)
    assert torch.equal(logits(model, tokenizer, codes), logits(mono.model, mono.tokenizer, codes))


def test_a_fine_tune_trained_without_xformers_keeps_torchs_attention_names(mono, tmp_path):
    # custom and memory_efficient off: audiocraft wraps nn.MultiheadAttention,
    # whose weights sit under `mha.`; an older xp.cfg also has conditioners.args.
    state = {
        key.replace("attn.", "attn.mha.").replace("cross_attention.", "cross_attention.mha."): value
        for key, value in audiocraft_state(mono.model).items()
    }
    assert "transformer.layers.0.self_attn.mha.in_proj_weight" in state
    cfg = set_setting(mono.cfg, "transformer_lm.memory_efficient", False)
    cfg = set_setting(cfg, "conditioners.args", {"merge_text_conditions_p": 0.25, "drop_desc_p": 0.5})
    model, tokenizer = load_audiocraft(write_export(tmp_path / "export", state, cfg), mono.locate)
    codes = random_codes(model, batch=2, seed=17)
    assert torch.equal(logits(model, tokenizer, codes), logits(mono.model, mono.tokenizer, codes))


def test_sizes_that_do_not_match_the_weights_are_refused_naming_the_weight(mono, tmp_path):
    cfg = set_setting(mono.cfg, "transformer_lm.hidden_scale", 3)
    export = write_export(tmp_path / "export", audiocraft_state(mono.model), cfg)
    with pytest.raises(
        ModelUnavailable, match=r"layers\.0\.fc1\.weight is \(32, 16\) in the checkpoint but \(48, 16\)"
    ):
        load_audiocraft(export, mono.locate)


def must_not_locate(name: str) -> str:
    raise AssertionError(f"a refused checkpoint should not fetch {name}")


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("transformer_lm.positional_embedding", "rope", ["positional_embedding", "rope"]),
        ("codebooks_pattern.modeling", "parallel", ["codebooks_pattern", "parallel", "delay"]),
        ("transformer_lm.layer_scale", 0.0001, ["layer_scale"]),
        ("transformer_lm.qk_layer_norm", True, ["qk_layer_norm"]),
        ("transformer_lm.bias_attn", True, ["bias_attn"]),
        ("codebooks_pattern.delay.delays", [0, 0, 0, 0], ["delays", "[0, 1, 2, 3]"]),
        (
            "conditioners.self_wav",
            {"model": "chroma_stem", "chroma_stem": {"sample_rate": "${sample_rate}"}},
            ["melody", "chroma"],
        ),
        ("interleave_stereo_codebooks.per_timestep", True, ["per_timestep"]),
    ],
)
def test_what_transformers_cannot_run_is_refused_naming_the_setting(mono, tmp_path, setting, value, named):
    cfg = set_setting(mono.cfg, setting, value)
    if setting.startswith("interleave"):
        cfg = set_setting(set_setting(cfg, "interleave_stereo_codebooks.use", True), "channels", 2)
    export = write_export(tmp_path / "export", audiocraft_state(mono.model), cfg)
    with pytest.raises(ModelUnavailable) as refused:
        load_audiocraft(export, must_not_locate)
    reason = str(refused.value)
    assert str(export) in reason
    for word in named:
        assert word in reason


def test_a_codec_of_its_own_is_refused(mono, tmp_path):
    codec = {
        "best_state": {"encoder.model.0.conv.conv.weight": torch.zeros(4, 1, 7)},
        "xp.cfg": "sample_rate: 32000\n",
        "version": "1.3.0",
        "exported": True,
    }
    export = write_export(tmp_path / "export", audiocraft_state(mono.model), mono.cfg, codec=codec)
    with pytest.raises(ModelUnavailable, match="compression_state_dict.bin holds its own codec weights"):
        load_audiocraft(export, must_not_locate)


def test_a_text_projection_bias_that_cannot_be_folded_is_refused(stereo, tmp_path):
    state = audiocraft_state(stereo.model)
    state["condition_provider.conditioners.description.output_proj.bias"] += 0.5
    export = write_export(tmp_path / "export", state, stereo.cfg)
    with pytest.raises(ModelUnavailable, match="bias"):
        load_audiocraft(export, stereo.locate)


def test_only_a_folder_holding_an_audiocraft_export_counts_as_one(mono, tmp_path):
    assert is_audiocraft(mono.export)
    assert not is_audiocraft(mono.named[T5_NAME])
    # A clone of a released model's repository holds both layouts: it loads as transformers'.
    (tmp_path / "state_dict.bin").write_bytes((mono.export / "state_dict.bin").read_bytes())
    (tmp_path / "config.json").write_text("{}")
    assert not is_audiocraft(tmp_path)


def test_the_worker_writes_a_take_from_a_fine_tune_folder(mono, monkeypatch):
    # The engine's own locate finds T5 and EnCodec as folders named like the hub
    # names, relative to the working directory: no network.
    monkeypatch.chdir(mono.root / "hub")
    engine = MusicGenEngine(str(mono.export), device="cpu", window_s=4.0, stride_s=2.4)
    engine.load()
    assert (engine.sample_rate, engine.channels, engine.num_codebooks) == (32000, 1, 4)
    context = decode(make_clip("wav", seconds=1.0, sample_rate=44100, channels=1), engine.sample_rate, 1)
    knobs = Knobs(duration_s=0.5, prompt_duration_s=0.5, prompt="warm lofi")
    takes = engine.generate(
        Continuation(context, knobs, (1, 2)), lambda step, total: None, threading.Event()
    )
    assert [t.audio.shape for t in takes] == [(1, 16000)] * 2
    assert np.isfinite(takes[0].audio).all() and not np.array_equal(takes[0].audio, takes[1].audio)
