# cython: language_level=3, boundscheck=False, wraparound=False
"""The walk of `online_lr.encoding.FeatureEncoder` over an event's fields, compiled: the twin
of `online_lr/_walk_py.py` (same branches, in the same order; read that one for the contract):
`walker` returns a callable `Walker`, where the Python twin returns a closure. Typed lists and
dicts let Cython call the C API directly."""

MAX_EXACT = 1 << 53


def walker(list indices, list values, list seen, child, array, slow, on_shared):
    return Walker(indices, values, seen, child, array, slow, on_shared)


cdef class Walker:
    cdef list indices, values, seen
    cdef object child, array, slow, on_shared

    def __init__(self, list indices, list values, list seen, child, array, slow, on_shared):
        self.indices, self.values, self.seen = indices, values, seen
        self.child, self.array, self.slow, self.on_shared = child, array, slow, on_shared

    def __call__(self, obj, parent):
        if type(obj) is dict:
            return self.walk_dict(<dict>obj, parent)
        for key, v in obj.items():
            refused = self.field(key, v, parent)
            if refused is not None:
                return refused
        return None

    cdef object walk_dict(self, dict obj, object parent):
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
        self.indices.append(col)
        self.values.append(1.0)
        return 0

    cdef object field(self, object key, object v, object parent):
        cdef dict children = parent.children
        cdef Py_ssize_t col, start, n_bag, end
        cdef double number
        node = children.get(key)
        if node is None:
            node = self.child(parent, key)
        t = type(v)
        if t is float:
            col = node.num_col
            number = v
            if col >= 0 and number - number == 0.0:  # finite
                self.indices.append(col)
                self.values.append(v)
                self.seen.append(node)
                return None
        elif t is str:
            found = (<dict>node.cats).get(v)
            if found is not None:
                self.category(found)
                self.seen.append(node)
                return None
        elif t is int:
            col = node.num_col
            if col >= 0 and -MAX_EXACT < v < MAX_EXACT:
                self.indices.append(col)
                self.values.append(float(v))
                self.seen.append(node)
                return None
        elif t is bool:
            col = node.num_col
            if col >= 0:
                self.indices.append(col)
                self.values.append(1.0 if v else 0.0)
                self.seen.append(node)
                return None
        elif t is dict:
            if node.ignored:
                return None
            return self.walk_dict(<dict>v, node)
        elif t is list:
            if node.ignored or not v:  # an empty array is missing
                return None
            cats = <dict>node.cats
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
            if n_bag > 1 and (self.indices[end - 1] == self.indices[end - 2] if n_bag == 2 else
                              len(set(self.indices[start:])) < n_bag):
                self.on_shared()  # a value twice in the bag
            return None
        if node.skip:
            return None
        return self.slow(node, v, self)
