"""`iter_layers`: every layer of a model, nested models included, through Keras' public API."""

_WRAPPED = ("cell", "layer", "forward_layer", "backward_layer")


def iter_layers(model):
    """Yield every layer of ``model`` once, depth first, descending into nested models (``.layers``).

    Keras' own recursive walk is private (``_flatten_layers``); this uses only
    public attributes: ``layers`` (functional and sequential models), ``cell``
    (recurrent layers such as ConvLSTM3D, whose cell holds the weights and a
    dtype policy of its own), ``layer`` (wrappers such as ``TimeDistributed``)
    and ``forward_layer``/``backward_layer`` (``Bidirectional``).
    """
    seen = set()
    stack = list(reversed(getattr(model, "layers", None) or []))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        children = list(getattr(layer, "layers", None) or [])
        children += [getattr(layer, name, None) for name in _WRAPPED]
        stack.extend(reversed([c for c in children if c is not None and hasattr(c, "dtype_policy")]))
