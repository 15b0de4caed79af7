"""tfrs-adcg: ads candidate generation by behavioral sequence modeling."""

import setuptools

# The verified stack (see docs/design.md, "Dependency stack"): tensorflow-io's kernels
# load only on TF 2.16.x and ScaNN 1.3.2's TF ops are built for TF 2.16, so
# every pin moves together or not at all.
INSTALL_REQUIRES = [
    "tensorflow==2.16.2",
    "tf-keras==2.16.0",
    "tensorflow-recommenders==0.7.7",
    "scann==1.3.2",
    "tensorflow-io==0.37.1",
    "tensorflow-io-gcs-filesystem==0.37.1",
    "tensorflow-serving-api==2.16.1",
    "apache-beam[gcp,tfrecord]==2.65.0",
    "numpy>=1.26,<1.27",
    "protobuf>=4.25,<4.26",
    "pyarrow==16.1.0",
    "pandas>=2.2,<3.1",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=8,<9", "matplotlib>=3.8,<3.10"],
}

setuptools.setup(
    name="tfrs-adcg",
    version="0.1.0",
    description=("Ads candidate generation by behavioral sequence modeling "
                 "with TensorFlow Recommenders, Apache Beam and ScaNN."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11,<3.12",
    packages=setuptools.find_packages(include=["tfrs_adcg*", "beam*",
                                               "export*"]),
    package_data={"export": ["serving/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
