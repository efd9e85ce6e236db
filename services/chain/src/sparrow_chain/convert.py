"""Domain objects to and from sparrow.v1 messages."""

from __future__ import annotations

from sparrow.v1 import chain_pb2, common_pb2

from sparrow_chain.domain import Chain, Event, GenerationParams, Node, StoredAudio

_ENERGY = {
    common_pb2.ENERGY_LOW: "low",
    common_pb2.ENERGY_MEDIUM: "medium",
    common_pb2.ENERGY_HIGH: "high",
}
_TEMPO = {
    common_pb2.TEMPO_FEEL_SLOWER: "slower",
    common_pb2.TEMPO_FEEL_SAME: "same",
    common_pb2.TEMPO_FEEL_FASTER: "faster",
}
_DENSITY = {
    common_pb2.DENSITY_SPARSE: "sparse",
    common_pb2.DENSITY_MEDIUM: "medium",
    common_pb2.DENSITY_DENSE: "dense",
}
_STATUS = {s: getattr(chain_pb2, f"NODE_STATUS_{s.upper()}") for s in ("pending", "generating", "ready", "error", "cancelled")}
_KIND = {
    "chain.created": chain_pb2.EVENT_KIND_CHAIN_CREATED,
    "node.created": chain_pb2.EVENT_KIND_NODE_CREATED,
    "node.updated": chain_pb2.EVENT_KIND_NODE_UPDATED,
    "node.committed": chain_pb2.EVENT_KIND_NODE_COMMITTED,
    "node.discarded": chain_pb2.EVENT_KIND_NODE_DISCARDED,
    "stems.updated": chain_pb2.EVENT_KIND_STEMS_UPDATED,
    "chain.deleted": chain_pb2.EVENT_KIND_CHAIN_DELETED,
}


def params_from_pb(msg: common_pb2.GenerationParams) -> GenerationParams:
    """Unset enums and zero numbers take the defaults; ranges are checked later."""
    defaults = GenerationParams()
    return GenerationParams(
        prompt=msg.prompt,
        energy=_ENERGY.get(msg.energy, defaults.energy),
        tempo_feel=_TEMPO.get(msg.tempo_feel, defaults.tempo_feel),
        density=_DENSITY.get(msg.density, defaults.density),
        cfg_coef=msg.cfg_coef or defaults.cfg_coef,
        prompt_duration_s=msg.prompt_duration_s or defaults.prompt_duration_s,
        duration_s=msg.duration_s or defaults.duration_s,
        seed=msg.seed if msg.HasField("seed") else None,
        top_k=msg.top_k if msg.HasField("top_k") else defaults.top_k,
        top_p=msg.top_p if msg.HasField("top_p") else defaults.top_p,
        temperature=msg.temperature if msg.HasField("temperature") else defaults.temperature,
    )


def params_to_pb(params: GenerationParams) -> common_pb2.GenerationParams:
    reverse = lambda table, value: next(k for k, v in table.items() if v == value)  # noqa: E731
    msg = common_pb2.GenerationParams(
        prompt=params.prompt,
        energy=reverse(_ENERGY, params.energy),
        tempo_feel=reverse(_TEMPO, params.tempo_feel),
        density=reverse(_DENSITY, params.density),
        cfg_coef=params.cfg_coef,
        prompt_duration_s=params.prompt_duration_s,
        duration_s=params.duration_s,
        top_k=params.top_k,
        top_p=params.top_p,
        temperature=params.temperature,
    )
    if params.seed is not None:
        msg.seed = params.seed
    return msg


def audio_to_pb(audio: StoredAudio) -> common_pb2.AudioInfo:
    return common_pb2.AudioInfo(
        format=audio.format,
        content_type=audio.content_type,
        sample_rate=audio.sample_rate,
        channels=audio.channels,
        duration_s=audio.duration_s,
        size_bytes=audio.size_bytes,
    )


def node_to_pb(node: Node) -> chain_pb2.Node:
    msg = chain_pb2.Node(
        id=node.id,
        chain_id=node.chain_id,
        parent_id=node.parent_id or "",
        status=_STATUS[node.status.value],
        committed=node.committed,
        error_message=node.error_message,
        progress=node.progress,
        filename=node.filename,
    )
    if node.params is not None:
        msg.params.CopyFrom(params_to_pb(node.params))
    if node.audio is not None:
        msg.audio.CopyFrom(audio_to_pb(node.audio))
    msg.create_time.FromDatetime(node.created_at)
    msg.update_time.FromDatetime(node.updated_at)
    return msg


def chain_to_pb(chain: Chain) -> chain_pb2.Chain:
    msg = chain_pb2.Chain(
        id=chain.id,
        title=chain.title,
        owner_id=chain.owner_id,
        root_node_id=chain.root_node_id,
        node_count=chain.node_count,
        spine_duration_s=chain.spine_duration_s,
    )
    msg.create_time.FromDatetime(chain.created_at)
    return msg


def event_to_pb(event: Event) -> chain_pb2.ChainEvent:
    msg = chain_pb2.ChainEvent(
        seq=event.seq,
        chain_id=event.chain_id,
        kind=_KIND[event.kind.value],
        node_id=event.node_id or "",
    )
    if event.node is not None:
        msg.node.CopyFrom(node_to_pb(event.node))
    msg.create_time.FromDatetime(event.created_at)
    return msg
