"""The decoder's rows: every take in flight, of every request, one row each (two
with guidance), each at its own position, stepped together.

A row's slot in a static cache holds its whole self-attention history (the
prefilled prompt and the steps since) and, on MusicGen, the keys and values of
its description for the cross-attention. A step feeds every row's last tokens
through the decoder at once: one pass over the weights for all rows, which is
what a step costs on a GPU whatever the row count. Each row reads only its own
slot, at its own position (its own entries of the sinusoidal table, its own
length in the attention's mask), so a request that joins late decodes alongside
earlier ones, and a row's numbers are the same whatever rows share its step:
every operation is per row (the linear layers' products are per row on the CPU's
int8 kernels; the attention is a batch of per-row products).

The step is the decoder's own modules (embeddings, norms, projections, feed
forward, lm heads) composed here around one attention over the slot, so that the
shapes are fixed by the slot count and the cache's length, not by the requests:
the same step can be captured once as a CUDA graph per padded row count.
"""

from __future__ import annotations

import torch

# Slots and cache length grow in these steps, so shapes (and CUDA graphs) change rarely.
ROW_BLOCK = 8
LENGTH_BLOCK = 256


def _round_up(value: int, block: int) -> int:
    return -(-value // block) * block


def upload(values: list[int], device: torch.device) -> torch.Tensor:
    """Host integers to the device without waiting for it: through pinned
    memory on CUDA (a copy from pageable memory waits for the stream first)."""
    host = torch.tensor(values, dtype=torch.int64)
    if device.type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


class Rows:
    """The static cache and the step over it. Not thread-safe: the scheduler's
    thread owns it.

    On CUDA a step is replayed from a CUDA graph, one per padded row count (a
    power of two) and attention length: eager PyTorch launches some 25 kernels
    per layer from Python, which costs more than the step's arithmetic at any
    row count a worker sees. Growing the cache (more slots, a longer window, a
    longer description) drops the graphs; they are captured again as they are
    met."""

    def __init__(self, decoder: torch.nn.Module, device: str, graphs: bool = True):
        # MusicgenForCausalLM or MusicgenMelodyForCausalLM.
        self.transformer = decoder.model.decoder
        self.layers = list(self.transformer.layers)
        self.lm_heads = decoder.lm_heads
        attention = self.layers[0].self_attn
        self.heads, self.head_dim, self.scaling = attention.num_heads, attention.head_dim, attention.scaling
        # MusicGen hears the text through cross-attention; melody in front of the codes.
        self.cross = hasattr(self.layers[0], "encoder_attn")
        self.num_codebooks = len(self.lm_heads)
        self.device = torch.device(device)
        self.dtype = self.transformer.embed_tokens[0].weight.dtype
        self.capacity = 0  # slots
        self.length = 0  # self-attention entries per slot
        self.text = 0  # cross-attention entries per slot
        self.keys = self.values = self.cross_keys = self.cross_values = self.cross_mask = None
        # Each slot's count of self-attention entries, on the host: the next position.
        self.filled: list[int] = []
        self.free: list[int] = []
        self.vocab = self.lm_heads[0].out_features
        # Per slot: the logits its next token is drawn from, the tokens it was
        # fed last, and the tokens its take kept at each step of its window.
        self.pending = torch.zeros((0, self.num_codebooks, self.vocab), device=self.device)
        self.tokens = torch.zeros((0, self.num_codebooks), dtype=torch.long, device=self.device)
        self.history = torch.zeros((0, self.num_codebooks, LENGTH_BLOCK), dtype=torch.long, device=self.device)
        self.graphed = graphs and self.device.type == "cuda"
        # (rows, length) -> (graph, its logits); its inputs are the static tensors.
        self.graphs: dict[tuple[int, int], tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool = None
        self._static_tokens = self._static_positions = None

    # -- slots ----------------------------------------------------------------

    def take(self, count: int) -> list[int]:
        """`count` free slots, the lowest first (so the rows a step runs over stay few)."""
        if len(self.free) < count:
            self._grow(rows=self.capacity + _round_up(count - len(self.free), ROW_BLOCK))
        self.free.sort()
        taken, self.free = self.free[:count], self.free[count:]
        return taken

    def give_back(self, slots: list[int]) -> None:
        for slot in slots:
            self.filled[slot] = 0
        self.free.extend(slots)

    @property
    def span(self) -> int:
        """Rows a step runs over: up to the highest slot in use (a slot in use
        holds at least its prefill; a free one holds nothing)."""
        return max((slot + 1 for slot, filled in enumerate(self.filled) if filled), default=0)

    def reserve_history(self, steps: int) -> None:
        """Room for a window of `steps` steps in every slot's history."""
        if steps > self.history.shape[-1]:
            grown = self.history.new_zeros((self.capacity, self.num_codebooks, _round_up(steps, LENGTH_BLOCK)))
            grown[..., : self.history.shape[-1]] = self.history
            self.history = grown

    def _grow(self, rows: int | None = None, length: int | None = None, text: int | None = None) -> None:
        rows, length, text = rows or self.capacity, length or self.length, text if text is not None else self.text
        layers, heads, dim = len(self.layers), self.heads, self.head_dim

        def grown(old: torch.Tensor | None, shape: tuple[int, ...], dtype=None) -> torch.Tensor:
            # Zeros, not empty: a masked entry is weighted 0, and 0 times a stale NaN is NaN.
            new = torch.zeros(shape, dtype=dtype or self.dtype, device=self.device)
            if old is not None:
                new[tuple(slice(0, n) for n in old.shape)] = old
            return new

        self.keys = grown(self.keys, (layers, rows, heads, length, dim))
        self.values = grown(self.values, (layers, rows, heads, length, dim))
        if self.cross:
            self.cross_keys = grown(self.cross_keys, (layers, rows, heads, text, dim))
            self.cross_values = grown(self.cross_values, (layers, rows, heads, text, dim))
            self.cross_mask = grown(self.cross_mask, (rows, text), torch.bool)
        self.pending = grown(self.pending, (rows, self.num_codebooks, self.vocab), torch.float32)
        self.tokens = grown(self.tokens, (rows, self.num_codebooks), torch.long)
        self.history = grown(self.history, (rows, self.num_codebooks, self.history.shape[-1]), torch.long)
        self.free.extend(range(self.capacity, rows))
        self.filled.extend([0] * (rows - self.capacity))
        self.capacity, self.length, self.text = rows, length, text
        # They read the tensors just replaced; their memory pool goes with them.
        self.graphs.clear()
        self._pool = None
        self._static_tokens = torch.zeros((rows, self.num_codebooks), dtype=torch.long, device=self.device)
        self._static_positions = torch.zeros((rows,), dtype=torch.long, device=self.device)
        table = self.transformer.embed_positions
        if table.weights.shape[0] < length:
            table.make_weights(length, table.embedding_dim)

    def reserve_length(self, length: int, text: int = 0) -> None:
        """Room for `length` self-attention entries (and `text` cross ones) per slot."""
        if length > self.length or text > self.text:
            self._grow(
                length=max(self.length, _round_up(length, LENGTH_BLOCK)),
                text=max(self.text, _round_up(text, 16)) if self.cross else 0,
            )

    # -- placing a prefill ----------------------------------------------------

    def place(self, slots: list[int], sources: list[int], prefilled, cross_mask: torch.Tensor | None) -> None:
        """Copy the prefill's keys and values of row `sources[i]` into slot
        `slots[i]`: the self-attention's (prompt, and melody's prefix) and the
        cross-attention's (the description). `prefilled` is transformers'
        EncoderDecoderCache after the prefill; `cross_mask` (prefill rows, text)."""
        self_cache = prefilled.self_attention_cache
        filled = self_cache.layers[0].keys.shape[-2]
        text = prefilled.cross_attention_cache.get_seq_length() if self.cross else 0
        self.reserve_length(filled + 1, text)
        index = torch.tensor(slots, device=self.device)
        source = torch.tensor(sources, device=self.device)
        for layer, cached in enumerate(self_cache.layers):
            self.keys[layer, index, :, :filled] = cached.keys[source].to(self.dtype)
            self.values[layer, index, :, :filled] = cached.values[source].to(self.dtype)
        if self.cross:
            self.cross_keys[:, index] = 0
            self.cross_values[:, index] = 0
            for layer, cached in enumerate(prefilled.cross_attention_cache.layers):
                self.cross_keys[layer, index, :, :text] = cached.keys[source].to(self.dtype)
                self.cross_values[layer, index, :, :text] = cached.values[source].to(self.dtype)
            self.cross_mask[index] = False
            self.cross_mask[index, :text] = cross_mask[source].bool()
        for slot in slots:
            self.filled[slot] = filled

    # -- the step ---------------------------------------------------------------

    def step(self, tokens: torch.Tensor, rows: int) -> torch.Tensor:
        """Feed each of the first `rows` slots its tokens ((rows, K), the tokens
        just kept) at its own next position -> (rows, K, vocab) logits for the
        step after. A free slot among them runs too (at position 0) and is ignored."""
        filled = self.filled[:rows]  # a free slot's is 0
        # The attention reads as far as the longest row, in blocks so shapes repeat.
        block = LENGTH_BLOCK if self.graphed else LENGTH_BLOCK // 4
        length = min(_round_up(max(filled) + 1, block), self.length)
        if self.graphed:
            logits = self._replay(tokens, filled, rows, length)
        else:
            logits = self.forward(tokens, upload(filled, self.device), rows, length)
        for slot, count in enumerate(filled):
            if count:
                self.filled[slot] += 1
        return logits

    def _replay(self, tokens: torch.Tensor, filled: list[int], rows: int, length: int) -> torch.Tensor:
        """The step from the CUDA graph of its padded row count, captured the
        first time that count and length are met. The padding rows are free
        slots, fed token 0 at position 0."""
        padded = min(1 << (rows - 1).bit_length(), self.capacity)
        self._static_tokens[:rows] = tokens
        self._static_tokens[rows:padded] = 0
        self._static_positions[:padded] = upload(filled + [0] * (padded - rows), self.device)
        key = (padded, length)
        if key not in self.graphs:
            tokens_in, positions_in = self._static_tokens[:padded], self._static_positions[:padded]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # a first run outside capture sets up the kernels' workspaces
                self.forward(tokens_in, positions_in, padded, length)
            torch.cuda.current_stream().wait_stream(side)
            self._pool = self._pool or torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            # thread_local: the callers' threads go on encoding and decoding meanwhile.
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                out = self.forward(tokens_in, positions_in, padded, length)
            self.graphs[key] = (graph, out)
        graph, out = self.graphs[key]
        graph.replay()
        return out[:rows]

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, rows: int, length: int) -> torch.Tensor:
        """The decoder on one position per row; pure over the cache's tensors
        (no host reads), so it can be captured as a CUDA graph."""
        model = self.transformer
        hidden = sum(model.embed_tokens[k](tokens[:, k]) for k in range(self.num_codebooks))
        hidden = (hidden + model.embed_positions.weights[positions].to(hidden.device))[:, None]  # (rows, 1, d)
        seen = torch.arange(length, device=self.device)[None, :] <= positions[:, None]  # (rows, length)
        self_mask = torch.zeros((rows, 1, 1, length), dtype=torch.float32, device=self.device)
        self_mask.masked_fill_(~seen[:, None, None, :], float("-inf"))
        if self.cross:
            cross_mask = torch.zeros((rows, 1, 1, self.text), dtype=torch.float32, device=self.device)
            # A finite floor: the unconditional rows hear no text at all (their values are zeros).
            cross_mask.masked_fill_(~self.cross_mask[:rows, None, None, :], torch.finfo(torch.float32).min)
        at = torch.arange(rows, device=self.device)
        for index, layer in enumerate(self.layers):
            residual = hidden
            x = layer.self_attn_layer_norm(hidden)
            attention = layer.self_attn
            query = self._heads(attention.q_proj(x))
            self.keys[index, at, :, positions] = self._heads(attention.k_proj(x))[:, :, 0]
            self.values[index, at, :, positions] = self._heads(attention.v_proj(x))[:, :, 0]
            heard = self._attend(
                query, self.keys[index, :rows, :, :length], self.values[index, :rows, :, :length], self_mask
            )
            hidden = residual + attention.out_proj(heard)
            if self.cross:
                residual = hidden
                x = layer.encoder_attn_layer_norm(hidden)
                attention = layer.encoder_attn
                heard = self._attend(
                    self._heads(attention.q_proj(x)),
                    self.cross_keys[index, :rows], self.cross_values[index, :rows], cross_mask,
                )
                hidden = residual + attention.out_proj(heard)
            residual = hidden
            x = layer.final_layer_norm(hidden)
            hidden = residual + layer.fc2(layer.activation_fn(layer.fc1(x)))
        last = model.layer_norm(hidden)[:, -1]
        return torch.stack([head(last) for head in self.lm_heads], dim=1)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(rows, 1, d) -> (rows, heads, 1, head_dim)."""
        return x.view(x.shape[0], 1, self.heads, self.head_dim).transpose(1, 2)

    def _attend(self, query, keys, values, mask) -> torch.Tensor:
        """One query per row against its own keys -> (rows, 1, d)."""
        scores = (query @ keys.transpose(-1, -2)) * self.scaling + mask
        weights = scores.softmax(dim=-1, dtype=torch.float32).to(query.dtype)
        out = weights @ values
        return out.transpose(1, 2).reshape(query.shape[0], 1, -1)
