"""Packaging for keras-liver."""

import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "keras_liver" / "version.py").read_text(),
    re.M,
).group(1)

setup(
    name="keras-liver",
    version=VERSION,
    description=(
        "Liver and liver-tumour segmentation on CT and 4D DCE-MRI with "
        "TensorFlow/Keras, exported for TensorFlow Serving"
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_liver", "keras_liver.*"]),
    package_data={"keras_liver.presets": ["*/preset.json", "*/README.md", "*/*.keras"]},  # the shipped presets
    install_requires=[
        "tensorflow>=2.20,<2.22",
        "keras>=3.10",
        "numpy>=1.26",
        "scipy>=1.11",
        "nibabel>=5.2",
        "pydicom>=3.0",
        "h5py>=3.10",
        "opencv-python-headless>=4.9",
        "scikit-image>=0.22",
        "scikit-learn>=1.4",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "pyyaml>=6.0",
        "tensorboard>=2.20",  # TensorFlow 2.21 no longer installs it; the TensorBoard callback needs it
    ],
    extras_require={
        "serving": ["tensorflow-serving-api>=2.20,<2.22", "grpcio>=1.60"],
        "notebooks": ["jupyter", "nbclient>=0.10", "ipykernel>=6.29", "nbformat>=5.9"],
        "dev": ["pytest>=8.0", "pytest-timeout>=2.3", "PyWavelets>=1.4"],
        "batch": ["apache-beam>=2.60", "pyarrow>=14"],  # keras-liver predict-batch (keras_liver.batch)
    },
    entry_points={"console_scripts": ["keras-liver=keras_liver.cli.main:entry_point"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
