"""Sphinx configuration: the user guides (MyST Markdown) and the API reference, built offline.

Built with warnings as errors and nitpicky cross-references:
``python -m sphinx -E -W -n --keep-going -b html docs docs/_build/html``. Nothing is fetched at
build time: there is no intersphinx, so references to other projects' types are listed in
``nitpick_ignore_regex`` below (every reference to a semjax name is checked), and the theme
(furo), MyST and sphinx-copybutton ship their assets in their wheels. Equations are written in
LaTeX and typeset by MathJax in the reader's browser (``sphinx.ext.mathjax`` only adds a script
tag; the build itself needs no network). The tables of numbers in the guides are written by
``docs/generate.py`` from the files the programs wrote, never typed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "semjax"
author = "semjax authors"
copyright = "the semjax authors"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "sphinx_copybutton",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = "semjax"
html_static_path: list[str] = []

# MyST: $...$ and $$...$$ math (with \tag for the paper's equation numbers), ::: fences, and
# anchors for headings down to ### so pages can link to a section.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Members inherited from other projects (flax modules) keep their docstrings out of ours:
# they cross-reference names that only resolve in those projects' docs.
autodoc_inherit_docstrings = False
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# The adapters' frameworks and the codec tools are optional extras; without them those
# pages still build, against stand-ins for the missing packages.
autodoc_mock_imports = [m for m in ("jaxmarl", "gymnax", "pettingzoo", "gymnasium",
                                    "transformers", "tokenizers", "sklearn")
                        if importlib.util.find_spec(m) is None]

# Other projects' names: without intersphinx they cannot resolve, and are not ours to check.
_EXTERNAL = ("jax", "jaxlib", "jnp", "np", "numpy", "chex", "flax", "optax", "distrax", "orbax", "omegaconf",
             "gymnasium", "gymnax", "jaxmarl", "pettingzoo", "argparse", "pathlib", "collections",
             "typing", "types", "matplotlib", "tqdm", "transformers", "enum", "functools", "dataclasses")
nitpick_ignore_regex = [
    ("py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    # a stringified annotation autodoc could not split, e.g. "Union[flax.linen.Module, ..."
    ("py:class", rf".*\b({'|'.join(_EXTERNAL)})\..*"),
    ("py:class", r"(Array|ArrayLike|PRNGKey|PRNGKeyArray|Path|Any|Callable|Mapping|Sequence|Iterable|Iterator)"),
    # A dataclass field's annotation that autodoc shows as a quoted string it cannot parse
    # (``'list[dict[str, list]]'``): a rendering artefact, not a cross-reference.
    ("py:class", r"'.*"),
    # A builtin generic that napoleon split at its comma ("weights (tuple[float, float]): ..."
    # in an Attributes section gives "tuple[float"): a fragment, not a cross-reference.
    ("py:class", r"(tuple|list|dict|set|frozenset|type)\[[^\]]*"),
]
