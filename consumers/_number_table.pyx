# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Message values that are flat JSON objects of numbers, read into one float64 table in C.

`number_table` is the fast path of `consumers.decode.decode_batch` for the commonest stream:
every value ``{"x0": 0.12, ..., "y": 3.4}`` with the same fields in the same order. Parsing
such a batch with orjson builds a dict and a float object per field; here the numbers go
straight into the table. Anything else (a string, a boolean, null, a nested value, an escape
in a name, other fields or another order, a duplicate name, a non-finite or out-of-range
number, a value over ``max_bytes``, invalid JSON) returns ``None``: the batch then takes the
orjson path, which refuses each bad value alone and names why. So whatever this accepts,
orjson parses to the same numbers (RFC 8259 grammar; numbers correctly rounded, as orjson
rounds them; an integer is converted to float exactly as ``float(int)`` does).

>>> names, table = number_table([b'{"a": 1, "y": -0.5}', b'{"a":2e1,"y":0}'], None)
>>> names, table.tolist()
(['a', 'y'], [[1.0, -0.5], [20.0, 0.0]])
>>> number_table([b'{"a": 1, "y": -0.5}', b'{"y": 0, "a": 2}'], None) is None  # other order
True
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.math cimport isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy

import numpy as np

cdef extern from "math.h":
    long double frexpl(long double x, int *exponent) nogil
    long double ldexpl(long double x, int exponent) nogil

cdef extern from "Python.h":
    double PyOS_string_to_double(const char *s, char **endptr, void *overflow_exception) \
        except? -1.0

# 10**k for k <= 22, all exact in a double: a mantissa under 2**53 times or divided by one of
# them is one correctly rounded operation (Clinger's fast path).
cdef double[23] _POW10
for _k in range(23):
    _POW10[_k] = float(10 ** _k)

# 10**k for k <= 27 in x87 extended precision (a 64-bit significand): 5**27 < 2**64, so all
# exact. A mantissa of up to 19 digits times or divided by one of them is one rounding to 64
# bits; rounding that to a double is the correctly rounded double unless the 11 bits between
# the two precisions lie next to the halfway point (then Python's parser decides): 17-digit
# numbers, as every JSON writer prints doubles, take this path.
cdef long double[28] _POW10L
_POW10L[0] = 1
for _k in range(1, 28):
    _POW10L[_k] = _POW10L[_k - 1] * 10

cdef enum:
    # A longer number (more than 19 significant digits or a large exponent) is handed to
    # Python's correctly rounded parser; one over this many bytes sends the batch orjson's way.
    _MAX_NUMBER_BYTES = 63


cdef inline bint _is_blank(char c) noexcept nogil:
    return c == c' ' or c == c'\t' or c == c'\n' or c == c'\r'


cdef inline Py_ssize_t _skip_blanks(const char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and _is_blank(s[i]):
        i += 1
    return i


cdef inline bint _is_digit(char c) noexcept nogil:
    return c'0' <= c <= c'9'


cdef Py_ssize_t _number(const char *s, Py_ssize_t i, Py_ssize_t n, double *out) except -2:
    """Parse the JSON number at ``s[i:]`` into ``out``; the index past it, or -1 if there is
    none, or one this does not take (non-finite, an integer over 18 digits, over 63 bytes)."""
    cdef Py_ssize_t start = i, digits = 0
    cdef bint negative = False, integer = True, exp_negative = False
    cdef uint64_t mantissa = 0
    cdef int64_t exponent = 0, exp_value = 0
    cdef char[_MAX_NUMBER_BYTES + 1] text
    if i < n and s[i] == c'-':
        negative = True
        i += 1
    if i >= n or not _is_digit(s[i]):
        return -1
    if s[i] == c'0':
        i += 1
        if i < n and _is_digit(s[i]):
            return -1  # no leading zeros in JSON
    else:
        while i < n and _is_digit(s[i]):
            if digits < 19:
                mantissa = mantissa * 10 + <uint64_t>(s[i] - c'0')
            else:
                exponent += 1
            digits += 1
            i += 1
    if i < n and s[i] == c'.':
        integer = False
        i += 1
        if i >= n or not _is_digit(s[i]):
            return -1
        while i < n and _is_digit(s[i]):
            if mantissa == 0 and s[i] == c'0':
                exponent -= 1  # a leading zero of the fraction is not a significant digit
            elif digits < 19:
                mantissa = mantissa * 10 + <uint64_t>(s[i] - c'0')
                exponent -= 1
                digits += 1
            else:
                digits += 1
            i += 1
    if i < n and (s[i] == c'e' or s[i] == c'E'):
        integer = False
        i += 1
        if i < n and (s[i] == c'+' or s[i] == c'-'):
            exp_negative = s[i] == c'-'
            i += 1
        if i >= n or not _is_digit(s[i]):
            return -1
        while i < n and _is_digit(s[i]):
            if exp_value < 100_000:
                exp_value = exp_value * 10 + (s[i] - c'0')
            i += 1
        exponent += -exp_value if exp_negative else exp_value
    if integer:
        if digits > 18:
            return -1  # orjson's integers stop at 64 bits: it decides
        out[0] = -<double><int64_t>mantissa if negative and mantissa else <double><int64_t>mantissa
        return i
    if mantissa == 0:
        out[0] = -0.0 if negative else 0.0
        return i
    if digits <= 15 and -22 <= exponent <= 22:
        if exponent >= 0:
            out[0] = <double>mantissa * _POW10[exponent]
        else:
            out[0] = <double>mantissa / _POW10[-exponent]
        if negative:
            out[0] = -out[0]
        return i
    if digits <= 19 and -27 <= exponent <= 27 and _extended(mantissa, exponent, out):
        if negative:
            out[0] = -out[0]
        return i
    if i - start > _MAX_NUMBER_BYTES:
        return -1
    memcpy(text, s + start, i - start)
    text[i - start] = 0
    out[0] = PyOS_string_to_double(text, NULL, NULL)  # correctly rounded; inf on overflow
    return i if isfinite(out[0]) else -1


cdef bint _extended(uint64_t mantissa, int64_t exponent, double *out) noexcept nogil:
    """``mantissa * 10**exponent`` correctly rounded into ``out`` through extended precision;
    False (``out`` unset) when the double rounding could be off by one."""
    cdef long double value = <long double>mantissa
    cdef int binary_exponent
    cdef uint64_t below
    if sizeof(long double) <= 8:
        return False  # no extended precision on this platform
    if exponent >= 0:
        value = value * _POW10L[exponent]
    else:
        value = value / _POW10L[-exponent]
    below = (<uint64_t>ldexpl(frexpl(value, &binary_exponent), 64)) & 0x7FF
    if 0x3FF <= below <= 0x401:
        return False
    out[0] = <double>value
    return True


cdef Py_ssize_t _name_end(const char *s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """The index of the quote closing the field name that starts at ``s[i]``, or -1 for a name
    with an escape or a control character (orjson's to judge)."""
    while i < n:
        if s[i] == c'"':
            return i
        if s[i] == c'\\' or <unsigned char>s[i] < 0x20:
            return -1
        i += 1
    return -1


cdef Py_ssize_t _row(const char *s, Py_ssize_t n, list found, const char **names,
                     Py_ssize_t *sizes, Py_ssize_t k, double *cells) except -2:
    """Read the object ``s[:n]`` into ``cells``, its fields must be the ``k`` ``names``, in
    order; with ``found`` not None, append its field names (bytes) to ``found`` instead. The
    number of fields, or -1 if ``s`` is not such an object."""
    cdef Py_ssize_t i, end, j = 0
    cdef double number
    i = _skip_blanks(s, 0, n)
    if i >= n or s[i] != c'{':
        return -1
    i = _skip_blanks(s, i + 1, n)
    while True:
        if i >= n or s[i] != c'"':
            return -1
        end = _name_end(s, i + 1, n)
        if end < 0:
            return -1
        if found is not None:
            found.append(s[i + 1:end])
        elif j >= k or sizes[j] != end - i - 1 or memcmp(names[j], s + i + 1, sizes[j]) != 0:
            return -1
        i = _skip_blanks(s, end + 1, n)
        if i >= n or s[i] != c':':
            return -1
        i = _number(s, _skip_blanks(s, i + 1, n), n, &number)
        if i < 0:
            return -1
        if found is None:
            cells[j] = number
        j += 1
        i = _skip_blanks(s, i, n)
        if i < n and s[i] == c',':
            i = _skip_blanks(s, i + 1, n)
            continue
        if i < n and s[i] == c'}':
            break
        return -1
    if _skip_blanks(s, i + 1, n) != n or (found is None and j != k):
        return -1
    return j


def number_table(values, max_bytes):
    """``(names, table)`` of a batch of flat JSON objects of numbers with the same fields in
    the same order (``table[r, j]`` is field ``names[j]`` of value ``r``); ``None`` for any
    other batch (see the module), or one with a value over ``max_bytes`` (None: no limit)."""
    cdef Py_ssize_t n = len(values), r, j, k
    cdef Py_ssize_t limit = -1 if max_bytes is None else max_bytes
    cdef list found = []
    cdef bytes value
    if n == 0:
        return None
    for item in values:
        if not PyBytes_CheckExact(item) or (limit >= 0 and PyBytes_GET_SIZE(item) > limit):
            return None
    value = values[0]
    k = _row(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), found, NULL, NULL, 0, NULL)
    if k < 1:
        return None
    try:
        decoded = [name.decode("utf-8") for name in found]
    except UnicodeDecodeError:
        return None
    if len(set(decoded)) != k:
        return None  # a duplicate name: orjson keeps the last
    table = np.empty((n, k), dtype=np.float64)
    cdef double[:, ::1] cells = table
    cdef const char **names = <const char **>malloc(k * sizeof(char *))
    cdef Py_ssize_t *sizes = <Py_ssize_t *>malloc(k * sizeof(Py_ssize_t))
    if names == NULL or sizes == NULL:
        free(names)
        free(sizes)
        raise MemoryError()
    try:
        for j in range(k):
            names[j] = PyBytes_AS_STRING(found[j])
            sizes[j] = PyBytes_GET_SIZE(found[j])
        for r in range(n):
            value = values[r]
            if _row(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), None, names, sizes, k,
                    &cells[r, 0]) < 0:
                return None
    finally:
        free(names)
        free(sizes)
    return decoded, table
