# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The dict fast path of `SGDRegressor`: dot products and plain SGD steps over feature dicts,
and the moves of dict state to and from the compiled kernels' arrays.

River streams samples as ``{name: value}`` dicts. Walking them with ``PyDict_Next`` in C avoids
building arrays per sample, which is what makes ``learn_one`` cheaper than River's own. The
Python twins of these functions live in `online_lr._dictpath_py` and are used when this
extension is not built; both are tested against the compiled kernels.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_Next
from cpython.float cimport PyFloat_AsDouble
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from libc.math cimport isfinite


cdef enum:
    _SMALL = 64  # samples with up to this many features need no heap buffer


cpdef double dot(dict weights, dict x, double intercept) except? -1.0:
    """``intercept + sum(weights.get(k, 0) * v for k, v in x.items())``.

    Raises TypeError on a value that is not a real number; the result is NaN or infinite when a
    value is.
    """
    cdef Py_ssize_t pos = 0
    cdef PyObject *key
    cdef PyObject *value
    cdef PyObject *weight
    cdef double total = intercept
    cdef double v
    while PyDict_Next(x, &pos, &key, &value):
        v = PyFloat_AsDouble(<object>value)
        weight = PyDict_GetItem(weights, <object>key)
        if weight is not NULL:
            total += PyFloat_AsDouble(<object>weight) * v
        else:
            total += 0.0 * v  # keeps NaN/inf of an unseen feature visible
    return total


def sgd_learn_one(
    dict weights, dict x, double y, double sample_weight, double intercept,
    double start_intercept, double lr, double intercept_lr, double l2, double clip,
):
    """Predict ``x``, then make one plain SGD step on the squared loss.

    The step is ``w_k -= lr * (g * x_k + l2 * w_k)`` over the features of ``x``, with ``g`` the
    clipped loss gradient at the prediction made from ``start_intercept`` (the target itself on
    the first step of ``intercept_init="auto"``). Returns ``(prediction, new_intercept)``: the
    prediction made with ``intercept`` before the step, NaN or infinite if a value of ``x`` is;
    the new intercept is NaN when the step was refused because a weight would become non-finite
    (the divergence guard), in which case ``weights`` is untouched. Raises TypeError on a value
    that is not a number.
    """
    cdef Py_ssize_t n = len(x)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t i = 0
    cdef PyObject *key
    cdef PyObject *value
    cdef PyObject *weight
    cdef double small[2 * _SMALL]
    cdef double *values = small
    cdef double *new_weights
    cdef double v, w, g, y_pred, new_intercept, total, dot_product = 0.0
    cdef bint finite
    if n > _SMALL:
        values = <double *> PyMem_Malloc(2 * n * sizeof(double))
        if values is NULL:
            raise MemoryError()
    new_weights = values + n
    try:
        # One pass reads each value and its weight; the second writes the new weights.
        while PyDict_Next(x, &pos, &key, &value):
            v = PyFloat_AsDouble(<object>value)
            weight = PyDict_GetItem(weights, <object>key)
            w = PyFloat_AsDouble(<object>weight) if weight is not NULL else 0.0
            dot_product += w * v  # 0 * v keeps the NaN or inf of an unseen feature visible
            values[i] = v
            new_weights[i] = w
            i += 1
        y_pred = intercept + dot_product
        if not isfinite(y_pred):
            return y_pred, 0.0
        g = 2.0 * (start_intercept + dot_product - y) * sample_weight
        g = min(max(g, -clip), clip)
        new_intercept = start_intercept - intercept_lr * g
        total = new_intercept
        for i in range(n):
            w = new_weights[i]
            new_weights[i] = w - lr * (g * values[i] + l2 * w)
            total += new_weights[i]
        if not isfinite(total):
            # A non-finite sum can also come from finite values adding up past the float range.
            finite = isfinite(new_intercept)
            for i in range(n):
                finite = finite and isfinite(new_weights[i])
            if not finite:
                return y_pred, float("nan")
        pos = 0
        i = 0
        while PyDict_Next(x, &pos, &key, &value):
            weights[<object>key] = new_weights[i]
            i += 1
        return y_pred, new_intercept
    finally:
        if values is not small:
            PyMem_Free(values)


def gather(list states, tuple rows, list names, double[:, ::1] F):
    """``F[r, j] = states[r].get(names[j], 0.0)`` for each r in ``rows``: dict state to an array."""
    cdef Py_ssize_t j, d = len(names)
    cdef PyObject *value
    cdef dict state
    for r in rows:
        state = states[r]
        for j in range(d):
            value = PyDict_GetItem(state, names[j])
            if value is not NULL:
                F[r, j] = PyFloat_AsDouble(<object>value)


def scatter(list states, tuple rows, list names, const double[:, ::1] F):
    """``states[r][names[j]] = F[r, j]`` for each r in ``rows``: an array back to dict state."""
    cdef Py_ssize_t j, d = len(names)
    cdef dict state
    for r in rows:
        state = states[r]
        for j in range(d):
            state[names[j]] = F[r, j]
