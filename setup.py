"""The optional C kernel for top-k retrieval; everything else is in pyproject.toml.

`optional=True`: where no C compiler is available the install still succeeds and the
engine uses its NumPy path (same results, slower on frequent terms).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "index.retrieval._topk",
            ["index/retrieval/_topk.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]
)
