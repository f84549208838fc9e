"""What `predict` and `query` write: one result schema for the same model, local or served.

* segmentation (CT or DCE): the mask as NIfTI on the input's grid; the
  path is printed;
* classification: a JSON record, `keras_liver.inference.classification_record`
  (``input``, ``model``, ``version``, ``task``, ``label``, ``class``,
  ``class_names``, ``probabilities``), written atomically and printed as one line;
* a DCE pipeline: the label map as NIfTI (0 background, 1 liver, 2 lesion), beside it
  ``<name>.json`` (``lesions.nii.gz`` -> ``lesions.json``) with one record per lesion
  (`lesions_record`), and the lesion-id map if asked; the label map's path is printed.
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


def lesions_json_path(output):
    """``lesions.nii.gz`` -> ``lesions.json`` beside it (any NIfTI suffix)."""
    import pathlib

    output = pathlib.Path(output)
    name = output.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output.with_name(name + ".json")


def lesions_record(lesions, *, source, model, version=None, class_names=None) -> dict:
    """The JSON `predict` and `query` write beside a DCE pipeline's label map."""
    return {"input": str(source), "model": str(model), "version": None if version is None else int(version),
            "task": "dce_lesions", "class_names": None if not class_names else [str(c) for c in class_names],
            "labels": {"0": "background", "1": "liver", "2": "lesion"}, "lesions": list(lesions)}


def write_lesions(labels, instance, lesions, *, output, source, model, version=None, class_names=None,
                  instances=None) -> int:
    """Write a DCE pipeline's label map, its ``lesions.json`` and optionally the lesion-id map; print the map's path."""
    from keras_liver.io import save_volume
    from keras_liver.io.atomic import write_text_atomic

    record = lesions_record(lesions, source=source, model=model, version=version, class_names=class_names)
    lesions_json_path(output).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(lesions_json_path(output), json.dumps(record, indent=2) + "\n")
    if instances:
        save_volume(instance, instances)
    print(save_volume(labels, output))
    return 0
