# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The dict path of `SGDRegressor`: a feature dict to (index, value) buffers, in C.

River streams samples as ``{name: value}`` dicts. This module only maps a dict to the feature
indices and values of the model's state arrays (walking it with ``PyDict_Next``) and calls the
compiled update rule, `online_lr._kernels.learn_row`/`predict_row`, through the C function
pointers numba gives for them: no arithmetic of the model is written here. Without this
extension `online_lr._dictpath_py` does the same mapping in Python.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.float cimport PyFloat_AsDouble
from cpython.long cimport PyLong_AsLongLong
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.ref cimport PyObject
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uintptr_t

ctypedef int64_t (*learn_fn_t)(
    double*, int64_t, double*, double*, int64_t*, double*, int64_t, double, double, double*,
    int64_t, double*) noexcept nogil
ctypedef double (*predict_fn_t)(
    double*, int64_t, double*, double*, int64_t*, double*, int64_t) noexcept nogil

cdef enum:
    _NON_FINITE_FEATURE = 1  # online_lr._state.ROW_OUTCOMES
    _N_SCRATCH_MIN = 16


cdef class DictRows:
    """Learn and predict feature dicts with the model's state (`online_lr._state.State`).

    ``errors``/``baseline_errors`` collect the squared errors of the learned rows, ``pending``
    of them, until the model folds them into its metrics (``on_full`` is called when full).
    """

    cdef learn_fn_t learn_fn
    cdef predict_fn_t predict_fn
    cdef object state, params, on_full
    cdef dict index
    cdef double *F
    cdef int64_t capacity
    cdef double *S
    cdef double *P
    cdef int64_t *idx
    cdef double *vals
    cdef double *scratch
    cdef int64_t width, n_scratch
    cdef double out[3]
    cdef double[::1] _errors
    cdef double[::1] _baseline
    cdef public object errors, baseline_errors
    cdef readonly object features  # the state's array the pointers point into
    cdef public Py_ssize_t pending

    def __cinit__(self):
        self.idx = NULL
        self.vals = NULL
        self.scratch = NULL
        self.width = 0

    def __init__(self, entry_points, state, params, int n_scratch, Py_ssize_t buffer, on_full):
        learn_address, predict_address = entry_points
        self.learn_fn = <learn_fn_t> <uintptr_t> learn_address
        self.predict_fn = <predict_fn_t> <uintptr_t> predict_address
        self.n_scratch = n_scratch
        self.on_full = on_full
        import numpy as np

        self.errors = np.empty(buffer)
        self.baseline_errors = np.empty(buffer)
        self._errors = self.errors
        self._baseline = self.baseline_errors
        self.pending = 0
        self.bind(state, params)
        self._reserve(_N_SCRATCH_MIN)

    def __dealloc__(self):
        PyMem_Free(self.idx)
        PyMem_Free(self.vals)
        PyMem_Free(self.scratch)

    def bind(self, state, params):
        """Point at ``state``'s arrays (call again after they grow) and at ``params``."""
        cdef double[:, ::1] F = state.features
        cdef double[::1] S = state.scalars
        cdef double[::1] P = params
        self.state, self.params, self.index = state, params, state.index
        self.features = state.features
        self.F, self.capacity, self.S, self.P = &F[0, 0], F.shape[1], &S[0], &P[0]

    cdef int _reserve(self, Py_ssize_t n) except -1:
        if n <= self.width:
            return 0
        n = max(n, 2 * self.width)
        self.idx = <int64_t *> PyMem_Realloc(self.idx, n * sizeof(int64_t))
        self.vals = <double *> PyMem_Realloc(self.vals, n * sizeof(double))
        self.scratch = <double *> PyMem_Realloc(self.scratch, self.n_scratch * n * sizeof(double))
        if self.idx is NULL or self.vals is NULL or self.scratch is NULL:
            raise MemoryError()
        self.width = n
        return 0

    cdef Py_ssize_t _known(self, dict x) except -2:
        """Fill the buffers with the known features of ``x``; -1 if a value is not finite."""
        cdef Py_ssize_t pos = 0, n = 0
        cdef PyObject *key
        cdef PyObject *value
        cdef PyObject *index
        cdef double v
        cdef bint finite = True
        self._reserve(len(x))
        while PyDict_Next(x, &pos, &key, &value):
            v = PyFloat_AsDouble(<object>value)
            finite = finite and isfinite(v)
            index = PyDict_GetItem(self.index, <object>key)
            if index is not NULL:
                self.idx[n] = PyLong_AsLongLong(<object>index)
                self.vals[n] = v
                n += 1
        return n if finite else -1

    cpdef double predict(self, dict x) except? -1.0:
        """The prediction for ``x`` (features the model has not seen count 0); NaN when a value
        is NaN or infinite. Raises TypeError on a value that is not a real number."""
        cdef Py_ssize_t n = self._known(x)
        if n < 0:
            return float("nan")
        return self.predict_fn(self.F, self.capacity, self.S, self.P, self.idx, self.vals, n)

    def learn(self, dict x, double y, double w):
        """Predict then learn ``x``: returns the `ROW_OUTCOMES` code of `learn_row`."""
        cdef Py_ssize_t n = self._known(x)
        cdef Py_ssize_t added = len(x) - n
        cdef int64_t code
        if n < 0:
            return _NON_FINITE_FEATURE
        if added:  # new features: give them indices (the arrays may grow), then again
            self.state.add([k for k in x if k not in self.index])
            self.bind(self.state, self.params)
            n = self._known(x)
        code = self.learn_fn(
            self.F, self.capacity, self.S, self.P, self.idx, self.vals, n, y, w, self.scratch,
            self.width, self.out,
        )
        if code != 0 and added:
            self.state.forget(added)
        if code == 0:
            self._errors[self.pending] = self.out[1]
            self._baseline[self.pending] = self.out[2]
            self.pending += 1
            if self.pending == self._errors.shape[0]:
                self.on_full()
        return code

    @property
    def last_prediction(self) -> float:
        return self.out[0]
