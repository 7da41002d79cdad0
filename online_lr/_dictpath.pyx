# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The dict fast path of `SGDRegressor`: dot products and plain SGD steps over feature dicts.

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

    ``start_intercept`` is the intercept the step starts from (the target itself on the first
    step of ``intercept_init="auto"``). Returns ``(prediction, new_intercept)``: the prediction
    made with ``intercept`` before the step, NaN or infinite if a value of ``x`` is; the new
    intercept is NaN when the step was refused because a weight would become non-finite, in
    which case ``weights`` is untouched. Raises TypeError on a value that is not a number.
    """
    cdef double dot_product = dot(weights, x, 0.0)
    cdef double y_pred = intercept + dot_product
    cdef double g
    if not isfinite(y_pred):
        return y_pred, 0.0
    g = 2.0 * (start_intercept + dot_product - y) * sample_weight
    g = min(max(g, -clip), clip)
    new_intercept = start_intercept - intercept_lr * g
    if not sgd_step(weights, x, g, lr, l2, new_intercept):
        return y_pred, float("nan")
    return y_pred, new_intercept


cpdef bint sgd_step(
    dict weights, dict x, double g, double lr, double l2, double new_intercept
) except -1:
    """Plain SGD step ``w_k -= lr * (g * x_k + l2 * w_k)`` over the features of ``x``.

    Returns False, leaving ``weights`` untouched, when a new weight or ``new_intercept`` would be
    non-finite (the divergence guard); True once committed.
    """
    cdef Py_ssize_t n = len(x)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t i = 0
    cdef PyObject *key
    cdef PyObject *value
    cdef PyObject *weight
    cdef double w, total = new_intercept
    cdef bint finite = True
    cdef double *new = <double *> PyMem_Malloc((n + 1) * sizeof(double))
    if new is NULL:
        raise MemoryError()
    try:
        while PyDict_Next(x, &pos, &key, &value):
            weight = PyDict_GetItem(weights, <object>key)
            w = PyFloat_AsDouble(<object>weight) if weight is not NULL else 0.0
            new[i] = w - lr * (g * PyFloat_AsDouble(<object>value) + l2 * w)
            total += new[i]
            i += 1
        if not isfinite(total):
            # A non-finite sum can also come from finite values adding up past the float range.
            finite = isfinite(new_intercept)
            for i in range(n):
                finite = finite and isfinite(new[i])
            if not finite:
                return False
        pos = 0
        i = 0
        while PyDict_Next(x, &pos, &key, &value):
            weights[<object>key] = new[i]
            i += 1
        return True
    finally:
        PyMem_Free(new)
