"""What `predict` and `query` write: one result schema for the same model, local or served.

* segmentation (CT or DCE): the mask as NIfTI on the input's grid; the
  path is printed;
* classification: a JSON record, `keras_liver.inference.classification_record`
  (``input``, ``model``, ``version``, ``task``, ``label``, ``class``,
  ``class_names``, ``probabilities``), written atomically and printed as one line.
"""

import json


def write_result(result, *, output, source, model, version=None, class_names=None) -> int:
    """Write a mask `Volume` or a classification result to ``output`` and print it (path or JSON)."""
    from keras_liver.io import save_volume
    from keras_liver.io.atomic import write_text_atomic
    from keras_liver.io.volume import Volume

    if isinstance(result, Volume):
        print(save_volume(result, output))
        return 0
    from keras_liver.inference import classification_record

    record = classification_record(result, source=source, model=model, version=version, class_names=class_names)
    write_text_atomic(output, json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))
    return 0
