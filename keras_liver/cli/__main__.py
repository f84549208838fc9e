"""``python -m keras_liver.cli``."""

from keras_liver.cli.main import entry_point

entry_point()
