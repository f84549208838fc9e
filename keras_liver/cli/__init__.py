"""The ``keras-liver`` command line. Nothing in the package imports it."""
