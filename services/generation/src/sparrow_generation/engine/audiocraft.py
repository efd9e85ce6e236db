"""Fine-tunes made with audiocraft, converted at load time into transformers' MusicGen.

audiocraft's export (`audiocraft/utils/export.py`) writes a folder holding
`state_dict.bin`, a torch pickle of {'best_state': the LM's weights, 'xp.cfg': the
training config as OmegaConf YAML, 'version', 'exported'}, and
`compression_state_dict.bin`, either a pointer to a pretrained codec
({'pretrained': 'facebook/encodec_32khz'}) or a codec's own weights. audiocraft
itself is no dependency (it pins torch 2.1 and imports xformers and spacy), so
this module reads the config with PyYAML, renames and splits the LM's weights into
`MusicgenForConditionalGeneration`'s, and takes T5 and EnCodec from their
Hugging Face checkpoints by name. The rest of the engine can't tell the result
from a released checkpoint.

What transformers' modules can't run is refused, naming the setting, instead of
loading a model that would sound wrong: rotary positions, layer scale, QK layer
norm, grouped keys/values, biases, post-norm, a bounded attention context, any
codebook pattern but audiocraft's standard delay, conditioning other than one T5
description through cross-attention (melody's chroma included), and any codec
but a pretrained Hugging Face EnCodec.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from transformers import (
    AutoConfig,
    AutoTokenizer,
    EncodecConfig,
    EncodecModel,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    PreTrainedTokenizerBase,
    T5EncoderModel,
)
from transformers.initialization import no_init_weights

from sparrow_common.engine import ModelUnavailable

log = logging.getLogger(__name__)

LM_FILE = "state_dict.bin"
CODEC_FILE = "compression_state_dict.bin"
_MISSING = object()
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][\w.]*)\}$")
# Audiocraft's defaults where a hand-written xp.cfg leaves a key out (LMModel,
# StreamingTransformer and nn.TransformerEncoderLayer's own defaults).
_LM_DEFAULTS = {
    "n_q": 8,
    "card": 1024,
    "hidden_scale": 4,
    "norm": "layer_norm",
    "norm_first": False,
    "bias_proj": True,
    "bias_ff": True,
    "bias_attn": True,
    "causal": False,
    "past_context": None,
    "cross_attention": False,
    "layer_scale": None,
    "positional_embedding": "sin",
    "max_period": 10000,
    "positional_scale": 1.0,
    "qk_layer_norm": False,
    "qk_layer_norm_cross": False,
    "kv_repeat": 1,
    "activation": "relu",
    "dropout": 0.1,
    "custom": False,
    "memory_efficient": False,
}
_ACTIVATIONS = ("gelu", "relu")  # the strings nn.TransformerEncoderLayer takes; gated ones change shapes


def is_audiocraft(folder: Path) -> bool:
    """Whether `folder` holds an audiocraft export (`state_dict.bin`) rather than a
    transformers checkpoint. A folder with both (a clone of a released model's
    repository) is the transformers checkpoint: it loads without conversion."""
    folder = Path(folder)
    return (folder / LM_FILE).is_file() and not (folder / "config.json").is_file()


def load_audiocraft(
    folder: Path, locate: Callable[[str], str]
) -> tuple[MusicgenForConditionalGeneration, PreTrainedTokenizerBase]:
    """The audiocraft export in `folder` as transformers' MusicGen (float32, eval
    mode, causal) and its T5 tokenizer. `locate(name)` turns a hub name into a
    local folder (or raises ModelUnavailable); it finds the T5 named in xp.cfg and
    the pretrained EnCodec the compression state points to. Raises
    ModelUnavailable, naming the setting, for what transformers' modules can't run."""
    folder = Path(folder)

    def refuse(reason: str) -> ModelUnavailable:
        return ModelUnavailable(f"cannot load the audiocraft checkpoint in {folder}: {reason}")

    try:
        package = _read(folder / LM_FILE)
        architecture = Architecture.from_package(package)
        codec_name = _codec_name(folder, architecture.cfg)
    except _Refusal as refusal:
        raise refuse(str(refusal)) from None
    state = package["best_state"]
    if isinstance(state.get("model"), dict):  # a training checkpoint's layout, not yet exported
        state = state["model"]
    state = dict(state)

    try:
        text_folder, codec_folder = locate(architecture.text_encoder), locate(codec_name)
        text_config = AutoConfig.from_pretrained(text_folder)
        tokenizer = AutoTokenizer.from_pretrained(text_folder)
        codec = EncodecModel.from_pretrained(codec_folder, dtype=torch.float32)
        architecture.check_codec(codec.config, codec_name)
        weights = _decoder_weights(state, architecture, text_config.d_model)
        weights.update(_text_weights(state, architecture, text_folder))
        weights.update({f"audio_encoder.{k}": v for k, v in codec.state_dict().items()})
        if state:
            shown = ", ".join(sorted(state)[:3])
            raise _Refusal(f"its state holds weights transformers' MusicGen has no place for ({shown}, ...)")
        config = MusicgenConfig(
            text_encoder=text_config, audio_encoder=codec.config, decoder=architecture.decoder_config()
        )
        with no_init_weights():  # every weight is loaded just below
            model = MusicgenForConditionalGeneration(config)
        _check_shapes(model, weights)
        model.load_state_dict(weights, strict=True)
        del codec, weights
    except _Refusal as refusal:
        raise refuse(str(refusal)) from None
    except ModelUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - every cause becomes the same clear reason
        raise refuse(_first_line(error)) from error
    # A decoder built without an attention implementation would see the future.
    if not model.config.decoder._attn_implementation:
        raise refuse(
            "transformers built its decoder without an attention implementation (it would not be causal)"
        )
    architecture.configure_generation(model)
    log.info(
        "converted audiocraft %s checkpoint %s: %d layers of width %d, %d codebooks, %d channel(s), "
        "T5 %s, codec %s",
        package.get("version", "?"),
        folder,
        architecture.num_layers,
        architecture.dim,
        architecture.n_q,
        architecture.channels,
        architecture.text_encoder,
        codec_name,
    )
    return model.float().eval(), tokenizer


class _Refusal(Exception):
    """A reason the checkpoint can't run on transformers' modules."""


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _read(path: Path) -> dict:
    if not path.is_file():
        raise _Refusal(f"it has no {path.name}")
    try:
        try:
            package = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # a legacy (non-zip) torch file can't be memory-mapped
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickles of anything but tensors and plain data land here
        raise _Refusal(f"{path.name} can't be read as an audiocraft export ({_first_line(error)})") from None
    if not isinstance(package, dict):
        raise _Refusal(f"{path.name} is not an audiocraft export (no dict inside)")
    return package


# -- xp.cfg ------------------------------------------------------------------


def _lookup(cfg: dict, path: str, default=_MISSING, _depth: int = 0):
    """The setting at dotted `path`, following `${other.path}` interpolations as
    OmegaConf would; `default` when absent (or '???', OmegaConf's missing)."""
    node = cfg
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            node = _MISSING
            break
        node = node[part]
    if node is _MISSING or node == "???":
        if default is _MISSING:
            raise _Refusal(f"xp.cfg has no {path}")
        return default
    if isinstance(node, str) and "${" in node:
        reference = _REFERENCE.match(node)
        if reference is None or _depth > 8:
            raise _Refusal(f"xp.cfg's {path} is an interpolation Sparrow can't resolve ({node})")
        return _lookup(cfg, reference.group(1), default, _depth + 1)
    return node


@dataclass(frozen=True)
class Architecture:
    """What the xp.cfg says the LM is, once checked to be something transformers'
    MusicGen runs."""

    cfg: dict
    dim: int
    num_heads: int
    num_layers: int
    ffn_dim: int
    n_q: int
    card: int
    channels: int
    activation: str
    dropout: float
    text_key: str  # the conditioner's name in the state dict: 'description'
    text_encoder: str  # its T5, by hub name: 't5-base'
    guidance: float
    segment_s: float | None
    sample_rate: int | None
    codec_n_q: int | None

    @classmethod
    def from_package(cls, package: dict) -> Architecture:
        if "best_state" not in package or "xp.cfg" not in package:
            raise _Refusal(
                f"{LM_FILE} lacks 'best_state' or 'xp.cfg'; export it with audiocraft.utils.export.export_lm"
            )
        raw = package["xp.cfg"]
        try:
            cfg = yaml.safe_load(raw) if isinstance(raw, str) else raw
        except yaml.YAMLError as error:
            raise _Refusal(f"its xp.cfg is not YAML ({error})") from None
        if not isinstance(cfg, dict):
            raise _Refusal("its xp.cfg is not a mapping")
        return cls.from_cfg(cfg)

    @classmethod
    def from_cfg(cls, cfg: dict) -> Architecture:
        def lm(key: str):
            return _lookup(cfg, f"transformer_lm.{key}", _LM_DEFAULTS.get(key, _MISSING))

        model = _lookup(cfg, "lm_model", "transformer_lm")
        if model != "transformer_lm":
            raise _Refusal(f"lm_model is '{model}'; only the autoregressive transformer_lm is MusicGen")
        refusals = {
            "positional_embedding": (
                lm("positional_embedding") != "sin",
                "transformers' MusicGen has sinusoidal positions only (no rope)",
            ),
            "max_period": (
                float(lm("max_period")) != 10000,
                "transformers' sinusoids have a period of 10000",
            ),
            "positional_scale": (
                float(lm("positional_scale")) != 1.0,
                "transformers adds positions unscaled",
            ),
            "layer_scale": (
                lm("layer_scale") is not None,
                "transformers' decoder layers have no layer scale",
            ),
            "qk_layer_norm": (bool(lm("qk_layer_norm")), "transformers' attention has no QK layer norm"),
            "qk_layer_norm_cross": (
                bool(lm("qk_layer_norm_cross")),
                "transformers' attention has no QK layer norm",
            ),
            "kv_repeat": (int(lm("kv_repeat")) != 1, "transformers' MusicGen has no grouped keys/values"),
            "norm_first": (not lm("norm_first"), "transformers' MusicGen is pre-norm only"),
            "norm": (lm("norm") != "layer_norm", "transformers' MusicGen uses layer norm"),
            "bias_attn": (bool(lm("bias_attn")), "transformers' MusicGen attention has no biases"),
            "bias_ff": (bool(lm("bias_ff")), "transformers' MusicGen feed-forward has no biases"),
            "bias_proj": (bool(lm("bias_proj")), "transformers' MusicGen output heads have no biases"),
            "causal": (not lm("causal"), "transformers' MusicGen decoder is causal"),
            "past_context": (
                lm("past_context") is not None,
                "transformers' decoder attends to the whole past",
            ),
            "activation": (
                lm("activation") not in _ACTIVATIONS,
                f"transformers' MusicGen takes {' or '.join(_ACTIVATIONS)} feed-forwards",
            ),
        }
        for key, (refused, why) in refusals.items():
            if refused:
                raise _Refusal(f"transformer_lm.{key} is {lm(key)!r}: {why}")
        dim, num_heads, n_q = int(lm("dim")), int(lm("num_heads")), int(lm("n_q"))
        if dim % num_heads:
            raise _Refusal(f"transformer_lm.dim {dim} is not a multiple of num_heads {num_heads}")
        channels, codec_n_q = _channels(cfg, n_q)
        _check_pattern(cfg, n_q, channels)
        text_key, text_encoder = _text_conditioning(cfg, lm("cross_attention"))
        segment = _lookup(cfg, "dataset.segment_duration", None)
        sample_rate = _lookup(cfg, "sample_rate", None)
        return cls(
            cfg=cfg,
            dim=dim,
            num_heads=num_heads,
            num_layers=int(lm("num_layers")),
            ffn_dim=int(float(lm("hidden_scale")) * dim),
            n_q=n_q,
            card=int(lm("card")),
            channels=channels,
            activation=lm("activation"),
            dropout=float(lm("dropout")),
            text_key=text_key,
            text_encoder=text_encoder,
            guidance=float(_lookup(cfg, "classifier_free_guidance.inference_coef", 3.0)),
            segment_s=float(segment) if segment is not None else None,
            sample_rate=int(sample_rate) if sample_rate is not None else None,
            codec_n_q=codec_n_q,
        )

    def check_codec(self, codec: EncodecConfig, name: str) -> None:
        """Refuse an EnCodec whose codes are not the ones this LM was trained on."""
        per_channel = self.n_q // self.channels
        used = int(
            max(1, math.floor(codec.target_bandwidths[0] * 1000 / (codec.codebook_nbits * codec.frame_rate)))
        )
        if self.codec_n_q is not None:
            used = self.codec_n_q
        if codec.audio_channels != 1:
            raise _Refusal(
                f"the codec {name} is not a mono EnCodec; MusicGen runs a mono EnCodec per channel"
            )
        if codec.codebook_size != self.card:
            raise _Refusal(
                f"transformer_lm.card is {self.card} but {name} has {codec.codebook_size} codes a codebook"
            )
        if used != per_channel:
            raise _Refusal(
                f"transformer_lm.n_q is {self.n_q} ({self.channels} channel(s)) "
                f"but {name} writes {used} codebooks"
            )
        if self.sample_rate is not None and self.sample_rate != codec.sampling_rate:
            raise _Refusal(f"sample_rate is {self.sample_rate} but {name} runs at {codec.sampling_rate} Hz")

    def decoder_config(self) -> MusicgenDecoderConfig:
        return MusicgenDecoderConfig(
            vocab_size=self.card,
            hidden_size=self.dim,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            ffn_dim=self.ffn_dim,
            activation_function=self.activation,
            dropout=self.dropout,
            attention_dropout=0.0,
            activation_dropout=0.0,
            layerdrop=0.0,
            max_position_embeddings=2048,
            scale_embedding=False,
            num_codebooks=self.n_q,
            audio_channels=self.channels,
            pad_token_id=self.card,
            bos_token_id=self.card,
            tie_word_embeddings=False,
        )

    def configure_generation(self, model: MusicgenForConditionalGeneration) -> None:
        """generate()'s defaults as a released checkpoint has them: the special
        token starts every codebook, a window is the training segment, sampling
        as audiocraft samples (top-k 250, its guidance)."""
        settings = model.generation_config
        settings.decoder_start_token_id = settings.pad_token_id = settings.bos_token_id = self.card
        frame_rate = model.config.audio_encoder.frame_rate
        settings.max_length = int((self.segment_s or 30.0) * frame_rate)
        settings.do_sample, settings.top_k, settings.guidance_scale = True, 250, self.guidance


def _channels(cfg: dict, n_q: int) -> tuple[int, int | None]:
    """Mono, or stereo as audiocraft interleaves it: codebooks [L1, R1, L2, R2, ...],
    which is transformers' order too (left on even codebooks, right on odd)."""
    interleave = bool(_lookup(cfg, "interleave_stereo_codebooks.use", False))
    channels = int(_lookup(cfg, "channels", 2 if interleave else 1))
    if channels not in (1, 2):
        raise _Refusal(f"channels is {channels}; MusicGen writes mono or stereo")
    if channels == 2 and not interleave:
        raise _Refusal("channels is 2 without interleave_stereo_codebooks.use; only interleaved stereo loads")
    if interleave and channels != 2:
        raise _Refusal("interleave_stereo_codebooks.use is set on mono audio")
    if interleave and _lookup(cfg, "interleave_stereo_codebooks.per_timestep", False):
        raise _Refusal(
            "interleave_stereo_codebooks.per_timestep is set; transformers interleaves codebooks, not steps"
        )
    if n_q % channels:
        raise _Refusal(f"transformer_lm.n_q is {n_q}, which can't be split between {channels} channels")
    codec_n_q = _lookup(cfg, "compression_model_n_q", None)
    return channels, int(codec_n_q) if codec_n_q is not None else None


def _check_pattern(cfg: dict, n_q: int, channels: int) -> None:
    """transformers decodes with the delay pattern alone: codebook k one step behind
    codebook k-1 (both channels of a stereo pair together)."""
    modeling = _lookup(cfg, "codebooks_pattern.modeling", None)
    if modeling is None:  # audiocraft's older layout: transformer_lm.q_modeling
        modeling = _lookup(cfg, "transformer_lm.q_modeling", None)
    if modeling != "delay":
        raise _Refusal(
            f"codebooks_pattern.modeling is {modeling!r}; "
            "transformers' MusicGen decodes the 'delay' pattern only"
        )
    # audiocraft's default is one step per codebook, which suits mono only.
    delays = _lookup(cfg, "codebooks_pattern.delay.delays", None) or list(range(n_q))
    expected = [k // channels for k in range(n_q)]
    if list(delays) != expected:
        raise _Refusal(
            f"codebooks_pattern.delay.delays is {list(delays)}; transformers' MusicGen needs {expected}"
        )
    for key in ("flatten_first", "empty_initial"):
        if _lookup(cfg, f"codebooks_pattern.delay.{key}", 0):
            raise _Refusal(f"codebooks_pattern.delay.{key} is set; transformers' delay pattern has neither")


def _text_conditioning(cfg: dict, cross_attention: bool) -> tuple[str, str]:
    """The one T5 description the decoder cross-attends to: (its key, T5's name)."""
    conditioners = dict(_lookup(cfg, "conditioners", None) or {})
    conditioners.pop("args", None)  # the provider's own settings, not a conditioner
    for key, settings in conditioners.items():
        if isinstance(settings, dict) and settings.get("model") == "chroma_stem":
            raise _Refusal(
                f"conditioner '{key}' is melody (chroma_stem) conditioning; "
                "audiocraft melody fine-tunes do not "
                "convert yet (they need MusicgenMelodyForConditionalGeneration and its chroma settings)"
            )
    fuser = _lookup(cfg, "fuser", None) or {}
    cross = list(fuser.get("cross") or [])
    for method in ("sum", "prepend", "input_interpolate"):
        if fuser.get(method):
            raise _Refusal(
                f"fuser.{method} is {list(fuser[method])}; "
                "transformers' MusicGen conditions by cross-attention only"
            )
    if _lookup(cfg, "fuser.cross_attention_pos_emb", False):
        raise _Refusal("fuser.cross_attention_pos_emb is set; transformers adds no positions to the text")
    if not cross and not cross_attention:
        raise _Refusal("transformer_lm.cross_attention is false and nothing is fused by cross-attention")
    if len(cross) != 1 or len(conditioners) != 1 or cross[0] not in conditioners:
        raise _Refusal(
            f"its conditioners are {sorted(conditioners)} fused by cross-attention as {cross}; "
            "transformers' MusicGen hears one T5 description"
        )
    key = cross[0]
    kind = conditioners[key].get("model")
    if kind != "t5":
        raise _Refusal(
            f"conditioner '{key}' is {kind!r}; transformers' MusicGen hears its description through T5"
        )
    name = _lookup(cfg, f"conditioners.{key}.t5.name")
    if _lookup(cfg, f"conditioners.{key}.t5.normalize_text", False):
        log.warning(
            "the fine-tune normalized its descriptions (spaCy lemmas); Sparrow's T5 hears them as written"
        )
    return key, str(name)


def _codec_name(folder: Path, cfg: dict) -> str:
    """The Hugging Face EnCodec the LM's codes belong to, from the compression
    state's pointer (or, without that file, the config's compression_model_checkpoint)."""
    path = folder / CODEC_FILE
    if path.is_file():
        package = _read(path)
        if "pretrained" not in package:
            raise _Refusal(
                f"{CODEC_FILE} holds its own codec weights, which Sparrow does not convert; "
                "export a pretrained "
                "EnCodec instead (export_pretrained_compression_model('facebook/encodec_32khz', ...))"
            )
        name = str(package["pretrained"])
    else:
        name = str(_lookup(cfg, "compression_model_checkpoint", ""))
        if not name.startswith("//pretrained/"):
            raise _Refusal(f"it has no {CODEC_FILE} and xp.cfg's compression_model_checkpoint is {name!r}")
    name = name.removeprefix("//pretrained/")
    if name.startswith(("dac_", "debug_", "/", ".")) or name.endswith((".bin", ".th")):
        raise _Refusal(
            f"its codec is {name!r}; only a pretrained Hugging Face EnCodec (facebook/encodec_32khz) loads"
        )
    return name


# -- weights -----------------------------------------------------------------


def _take(state: dict, *names: str) -> torch.Tensor:
    """Pop the first of `names` present, as float32 (audiocraft's MHA keeps its
    weights under `mha.` unless it ran the custom attention)."""
    for name in names:
        if name in state:
            return state.pop(name).to(torch.float32)
    raise _Refusal(f"its state has no {names[0]}")


def _decoder_weights(state: dict, architecture: Architecture, text_width: int) -> dict[str, torch.Tensor]:
    """The LM's weights under transformers' names, popped from `state`."""
    out: dict[str, torch.Tensor] = {}
    decoder = "decoder.model.decoder"
    projection_key = f"condition_provider.conditioners.{architecture.text_key}.output_proj"
    projection = _take(state, f"{projection_key}.weight")
    projection_bias = _take(state, f"{projection_key}.bias")
    if tuple(projection.shape) != (architecture.dim, text_width):
        raise _Refusal(
            f"its description projection is {tuple(projection.shape)}, not ({architecture.dim}, {text_width})"
        )
    # transformers has no text projection when T5 is as wide as the decoder: fold
    # it into the cross-attention's keys and values, which have no bias to take its own.
    fold = text_width == architecture.dim
    if fold and torch.count_nonzero(projection_bias):
        raise _Refusal(
            f"T5 is as wide as the decoder ({text_width}), so transformers has no text projection, and this "
            "one has a bias that can't be folded into the cross-attention"
        )
    if not fold:
        out["enc_to_dec_proj.weight"], out["enc_to_dec_proj.bias"] = projection, projection_bias
    for k in range(architecture.n_q):
        out[f"{decoder}.embed_tokens.{k}.weight"] = _take(state, f"emb.{k}.weight")
        out[f"decoder.lm_heads.{k}.weight"] = _take(state, f"linears.{k}.weight")
    for i in range(architecture.num_layers):
        ours, theirs = f"{decoder}.layers.{i}", f"transformer.layers.{i}"
        for attention, target in (("self_attn", "self_attn"), ("cross_attention", "encoder_attn")):
            packed = _take(
                state, f"{theirs}.{attention}.in_proj_weight", f"{theirs}.{attention}.mha.in_proj_weight"
            )
            if tuple(packed.shape) != (3 * architecture.dim, architecture.dim):
                raise _Refusal(f"{theirs}.{attention}.in_proj_weight is {tuple(packed.shape)}")
            q, k, v = packed.chunk(3)
            if attention == "cross_attention" and fold:
                k, v = (k.double() @ projection.double()).float(), (v.double() @ projection.double()).float()
            out[f"{ours}.{target}.q_proj.weight"] = q.contiguous()
            out[f"{ours}.{target}.k_proj.weight"] = k.contiguous()
            out[f"{ours}.{target}.v_proj.weight"] = v.contiguous()
            out[f"{ours}.{target}.out_proj.weight"] = _take(
                state, f"{theirs}.{attention}.out_proj.weight", f"{theirs}.{attention}.mha.out_proj.weight"
            )
        out[f"{ours}.fc1.weight"] = _take(state, f"{theirs}.linear1.weight")
        out[f"{ours}.fc2.weight"] = _take(state, f"{theirs}.linear2.weight")
        for norm, target in (
            ("norm1", "self_attn_layer_norm"),
            ("norm_cross", "encoder_attn_layer_norm"),
            ("norm2", "final_layer_norm"),
        ):
            for part in ("weight", "bias"):
                out[f"{ours}.{target}.{part}"] = _take(state, f"{theirs}.{norm}.{part}")
    for part in ("weight", "bias"):
        out[f"{decoder}.layer_norm.{part}"] = _take(state, f"out_norm.{part}")
    return out


def _check_shapes(model: MusicgenForConditionalGeneration, weights: dict[str, torch.Tensor]) -> None:
    """Say which weight doesn't fit, rather than load_state_dict's wall of text."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise _Refusal(f"its state has nothing for {missing[0]} ({len(missing)} weights missing)")
    for key, value in weights.items():
        if key not in expected:
            raise _Refusal(f"transformers' MusicGen has no {key}")
        if value.shape != expected[key].shape:
            raise _Refusal(
                f"{key} is {tuple(value.shape)} in the checkpoint "
                f"but {tuple(expected[key].shape)} by its xp.cfg"
            )


def _text_weights(state: dict, architecture: Architecture, text_folder: str) -> dict[str, torch.Tensor]:
    """T5's weights: the fine-tuned ones when the state holds them, else the
    pretrained T5 named in xp.cfg."""
    prefix = f"condition_provider.conditioners.{architecture.text_key}.t5."
    tuned = {
        key[len(prefix) :]: state.pop(key).to(torch.float32)
        for key in [k for k in state if k.startswith(prefix)]
    }
    if tuned:
        # Tied in T5: a state may keep one name of the pair only.
        for one, other in (
            ("shared.weight", "encoder.embed_tokens.weight"),
            ("encoder.embed_tokens.weight", "shared.weight"),
        ):
            if one in tuned and other not in tuned:
                tuned[other] = tuned[one]
        weights = tuned
    else:
        weights = T5EncoderModel.from_pretrained(text_folder, dtype=torch.float32).state_dict()
    return {f"text_encoder.{k}": v for k, v in weights.items()}
