"""Builds the C extensions: the dict path and the encoder's walk; everything else is in
pyproject.toml.

The extensions are optional: without Cython or a C compiler the install still succeeds and
`online_lr` maps dicts in Python (`online_lr/_dictpath_py.py`; both call the same compiled
update rule) and walks events in Python (`online_lr/_walk_py.py`): the same results, only
slower per call.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # noqa: BLE001 - any build failure falls back to Python
            print(f"online-lr: C extension not built ({err}); using the Python dict path")

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            print(f"online-lr: {ext.name} not built ({err}); using the Python dict path")


try:
    from Cython.Build import cythonize
except ImportError:
    ext_modules = []
else:
    ext_modules = cythonize(
        [Extension("online_lr._dictpath", ["online_lr/_dictpath.pyx"]),
         Extension("online_lr._walk", ["online_lr/_walk.pyx"])],
        compiler_directives={"language_level": "3"},
    )

setup(ext_modules=ext_modules, cmdclass={"build_ext": OptionalBuildExt})
