# cython: language_level=3, boundscheck=False, wraparound=False
"""The loop of `online_lr.encoding.FeatureEncoder` over events and its walk over an event's
fields, compiled: the twin of `online_lr/_walk_py.py` (same branches, in the same order; read
that one for the contract): `walker` returns a callable `Walker`, where the Python twin returns
a closure; `iso_seconds` reads the usual ISO 8601 timestamps, which the Python twin leaves to
`online_lr.encoding.parse_timestamp`. Typed lists and dicts let Cython call the C API
directly; numbers are stored straight into the output's typed arrays."""

from collections.abc import Mapping

from cpython cimport array as carray
from cpython.long cimport PyLong_AsLongLongAndOverflow

cdef long long MAX_EXACT = 1LL << 53  # integers below it convert to double exactly
cdef double NAN = float("nan")


cdef inline bint exact_int(object v, double *number):
    """Whether the int ``v`` is below `MAX_EXACT` in magnitude (then ``number`` is set)."""
    cdef int overflow = 0
    cdef long long k = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or not -MAX_EXACT < k < MAX_EXACT:
        return False
    number[0] = <double>k
    return True


cdef inline int push_index(carray.array indices, Py_ssize_t col) except -1:
    """``indices.append(col)`` for an array of C ``long long`` ("q")."""
    cdef Py_ssize_t n = len(indices)
    carray.resize_smart(indices, n + 1)
    indices.data.as_longlongs[n] = col
    return 0


cdef inline int push_value(carray.array values, double value) except -1:
    """``values.append(value)`` for an array of C ``double`` ("d")."""
    cdef Py_ssize_t n = len(values)
    carray.resize_smart(values, n + 1)
    values.data.as_doubles[n] = value
    return 0


cdef class Node:
    """One dotted path of the event tree, with its settings and column caches (see the Python
    twin); the walk reads its fields in C."""
    cdef public Py_ssize_t nid, num_col, num_shared
    cdef public str path
    cdef public dict children, cats
    cdef public list elements
    cdef public bint ignored, included, categorical, skip

    def __init__(self, Py_ssize_t nid, str path, bint ignored, bint included, bint categorical,
                 bint skip):
        self.nid, self.path = nid, path
        self.children, self.elements = {}, []
        self.ignored, self.included, self.categorical, self.skip = \
            ignored, included, categorical, skip
        self.num_col = self.num_shared = -1
        self.cats = {}


def walker(carray.array indices, carray.array values, list seen, child, array, slow,
           on_shared):
    return Walker(indices, values, seen, child, array, slow, on_shared)


cdef class Walker:
    cdef carray.array indices, values
    cdef list seen
    cdef object child, array, slow, on_shared

    def __init__(self, carray.array indices, carray.array values, list seen, child, array,
                 slow, on_shared):
        self.indices, self.values, self.seen = indices, values, seen
        self.child, self.array, self.slow, self.on_shared = child, array, slow, on_shared

    def __call__(self, obj, Node parent):
        if type(obj) is dict:
            return self.walk_dict(<dict>obj, parent)
        for key, v in obj.items():
            refused = self.field(key, v, parent)
            if refused is not None:
                return refused
        return None

    cdef object walk_dict(self, dict obj, Node parent):
        for key, v in obj.items():
            refused = self.field(key, v, parent)
            if refused is not None:
                return refused
        return None

    cdef int category(self, Py_ssize_t col) except -1:
        """Append a cached category's column (``~column`` when shared or hashed)."""
        if col < 0:
            col = ~col
            self.on_shared()
        push_index(self.indices, col)
        push_value(self.values, 1.0)
        return 0

    cdef object field(self, object key, object v, Node parent):
        cdef Py_ssize_t col, start, n_bag, end
        cdef double number = 0.0
        cdef Node node = parent.children.get(key)
        if node is None:
            node = self.child(parent, key)
        t = type(v)
        if t is float:
            col = node.num_col
            number = v
            if col >= 0 and number - number == 0.0:  # finite
                push_index(self.indices, col)
                push_value(self.values, number)
                self.seen.append(node)
                return None
        elif t is str:
            found = node.cats.get(v)
            if found is not None:
                self.category(found)
                self.seen.append(node)
                return None
        elif t is int:
            col = node.num_col
            if col >= 0 and exact_int(v, &number):
                push_index(self.indices, col)
                push_value(self.values, number)
                self.seen.append(node)
                return None
        elif t is bool:
            col = node.num_col
            if col >= 0:
                push_index(self.indices, col)
                push_value(self.values, 1.0 if v else 0.0)
                self.seen.append(node)
                return None
        elif t is dict:
            if node.ignored:
                return None
            return self.walk_dict(<dict>v, node)
        elif t is list:
            if node.ignored or not v:  # an empty array is missing
                return None
            cats = node.cats
            start = len(self.indices)
            n_bag = 0
            for e in <list>v:  # the usual case first: strings already in the cache
                if type(e) is not str:
                    break
                found = cats.get(e)
                if found is None:
                    break
                self.category(found)
                n_bag += 1
            if n_bag < len(<list>v):
                return self.array(node, v, self, start, n_bag)
            self.seen.append(node)
            end = len(self.indices)
            if n_bag > 1 and (self.indices.data.as_longlongs[end - 1] ==
                              self.indices.data.as_longlongs[end - 2] if n_bag == 2 else
                              len(set(self.indices[start:])) < n_bag):
                self.on_shared()  # a value twice in the bag
            return None
        if node.skip:
            return None
        return self.slow(node, v, self)


def encode_events(events, out, walk, root, target, timestamp, bint transform, list names,
                  list kind_changes, as_object, lookup, target_number, parse_time, merge_row,
                  forget):
    cdef carray.array indptr = out.indptr, indices = out.indices, values = out.values
    cdef carray.array ys = out.y, timestamps = out.timestamps
    cdef list refusals = out.refusals, seen = out.seen
    cdef bint target_dotted = target is not None and "." in target
    cdef bint ts_dotted = timestamp is not None and "." in timestamp
    cdef Walker walker = walk if type(walk) is Walker else None
    cdef Py_ssize_t i = -1, start, mark, n_names, n_kind_changes
    cdef double y, ts
    for i, event in enumerate(events):
        if transform or type(event) is not dict:
            event = as_object(event)
            if not isinstance(event, Mapping):
                refusals.append((i, event))
                continue
        y = NAN
        if target is not None:
            raw = (<dict>event).get(target) if type(event) is dict else event.get(target)
            if raw is None and target_dotted:
                raw = lookup(event, target)
            if raw is None:
                y = NAN
            elif type(raw) is float and (<double>raw) - (<double>raw) == 0.0:
                y = raw
            elif type(raw) is int and exact_int(raw, &y):
                pass
            else:
                raw = target_number(raw)
                if type(raw) is not float:
                    refusals.append((i, raw))
                    continue
                y = raw
        ts = NAN
        if timestamp is not None:
            raw = (<dict>event).get(timestamp) if type(event) is dict else event.get(timestamp)
            if raw is None and ts_dotted:
                raw = lookup(event, timestamp)
            if raw is not None:
                if type(raw) is str:
                    ts = read_iso(<str>raw)
                elif type(raw) is float:
                    ts = raw
                elif type(raw) is int and exact_int(raw, &ts):
                    pass
                if ts - ts != 0.0:  # not read above (NaN), or not finite
                    raw = parse_time(raw)
                    if type(raw) is not float:
                        refusals.append((i, raw))
                        continue
                    ts = raw
        start = len(indices)
        mark = len(seen)
        n_names = len(names)
        n_kind_changes = len(kind_changes)
        out.dup = False
        if walker is not None and type(event) is dict:
            refused = walker.walk_dict(<dict>event, root)
        else:
            refused = walk(event, root)
        if refused is not None:
            del indices[start:], values[start:], seen[mark:]
            refusals.append((i, refused))
            if len(names) != n_names or len(kind_changes) != n_kind_changes:
                root = forget(n_names, n_kind_changes, seen)
            continue
        if out.dup and len(set(indices[start:])) < len(indices) - start:
            merge_row(indices, values, start)
        push_index(indptr, len(indices))
        push_value(ys, y)
        push_value(timestamps, ts)
    return i + 1


def iso_seconds(str text):
    """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS``, with an optional fraction of 1 to 6 digits and
    an optional ``Z`` or ``±HH:MM`` (naive = UTC; ``t`` or a blank for ``T``, ``z`` for ``Z``),
    exactly as `online_lr.encoding.parse_timestamp` reads it; NaN for any other text, an
    invalid date or time, or a moment too far from 1970 (about 285 years) to compute here.

    The fields are checked as ``datetime`` checks them; the seconds are the microseconds since
    the epoch (exact in a double below 2**53) divided by 10**6, as ``datetime.timestamp``
    computes them, so the quotient is rounded alike.
    """
    return read_iso(text)


cdef inline int digits(str text, Py_ssize_t at, Py_ssize_t n):
    """The number the ASCII digits ``text[at:at + n]`` spell; -1 if one is not a digit."""
    cdef int value = 0, code
    cdef Py_ssize_t k
    for k in range(at, at + n):
        code = <int><Py_UCS4>text[k]
        if code < 48 or code > 57:
            return -1
        value = value * 10 + code - 48
    return value


cdef inline int days_in_month(long long year, int month):
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month == 4 or month == 6 or month == 9 or month == 11 else 31


cdef inline long long days_from_civil(long long year, int month, int day):
    cdef long long era, year_of_era, day_of_year, day_of_era
    year -= month <= 2
    era = year // 400  # year >= 0: C division is floor division
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


cdef double read_iso(str text):
    cdef Py_ssize_t n = len(text), at = 19, end
    cdef int year, month, day, hour, minute, second, off_hours, off_minutes
    cdef long long seconds, micros, micro = 0, offset
    cdef Py_UCS4 c
    if n < 19 or text[4] != u"-" or text[7] != u"-" or text[13] != u":" or text[16] != u":":
        return NAN
    c = text[10]
    if c != u"T" and c != u"t" and c != u" ":
        return NAN
    year, month, day = digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2)
    hour, minute, second = digits(text, 11, 2), digits(text, 14, 2), digits(text, 17, 2)
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= days_in_month(year, month) or \
            not 0 <= hour <= 23 or not 0 <= minute <= 59 or not 0 <= second <= 59:
        return NAN  # -1: not digits
    seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    if at < n and text[at] == u".":
        end = at + 1
        while end < n and text[end] >= u"0" and text[end] <= u"9":
            end += 1
        if end == at + 1 or end - at - 1 > 6:
            return NAN
        micro = digits(text, at + 1, end - at - 1)
        for _ in range(6 - (end - at - 1)):
            micro *= 10
        at = end
    if at < n:
        c = text[at]
        if (c == u"Z" or c == u"z") and at + 1 == n:
            pass
        elif (c == u"+" or c == u"-") and at + 6 == n and text[at + 3] == u":":
            off_hours, off_minutes = digits(text, at + 1, 2), digits(text, at + 4, 2)
            if not 0 <= off_hours <= 23 or not 0 <= off_minutes <= 59:  # -1: not digits
                return NAN
            offset = off_hours * 3600 + off_minutes * 60
            seconds -= offset if c == u"+" else -offset
        else:
            return NAN
    micros = seconds * 1000000 + micro
    if not -MAX_EXACT < micros < MAX_EXACT:
        return NAN
    return <double>micros / 1e6
