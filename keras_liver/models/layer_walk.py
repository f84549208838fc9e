"""`iter_layers`: every layer of a model, nested models included, through Keras' public API."""


def iter_layers(model):
    """Yield every layer of ``model`` once, depth first, descending into nested models (``.layers``).

    Keras' own recursive walk is private (``_flatten_layers``); this uses only
    the public ``layers`` attribute, which functional and sequential models
    and keras-liver's models have.
    """
    seen = set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(reversed(getattr(layer, "layers", []) or []))
