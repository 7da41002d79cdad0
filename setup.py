"""Builds the C extensions; everything else is in pyproject.toml.

All are optional: without Cython or a C compiler the install still succeeds, and each has a
Python path with the same results, only slower per call:
`online_lr._dictpath` (the dict path): without it `online_lr` maps dicts in Python
(`online_lr/_dictpath_py.py`); both call the same compiled update rule.
`online_lr._walk` (the encoder's loop over events and walk over their fields, ISO 8601 timestamps
read in C): without it
`online_lr/_walk_py.py`.
`consumers._number_table` (flat JSON objects of numbers read into a table): without it
`consumers.decode` parses every batch with orjson.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # noqa: BLE001 - any build failure falls back to Python
            print(f"online-lr: C extensions not built ({err}); using the Python paths")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            print(f"online-lr: {ext.name} not built ({err}); using its Python path")


try:
    from Cython.Build import cythonize
except ImportError:
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("online_lr._dictpath", ["online_lr/_dictpath.pyx"]),
         Extension("online_lr._walk", ["online_lr/_walk.pyx"]),
         Extension("consumers._number_table", ["consumers/_number_table.pyx"])],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
