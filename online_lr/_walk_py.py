"""The walk of `online_lr.encoding.FeatureEncoder` over an event's fields, in Python: used when
the C extension (`online_lr/_walk.pyx`, its compiled twin, line for line) is not built.

The walk only replays what the encoder has already decided: a value whose column is cached on
its field's node (a finite number, a known category, a nested object, an array) is appended to
the output lists here; anything else goes to the encoder's slow path (``slow``), which holds
the encoding rules. The tests check that both twins encode every fuzzed event alike.
"""

from __future__ import annotations

from collections.abc import Callable

#: Integers below this magnitude convert to float exactly and cannot overflow.
MAX_EXACT = 1 << 53


class Walker:
    """``walker(obj, parent)`` appends the features of the object ``obj`` under the node
    ``parent`` to ``indices``/``values`` and the nodes with a value to ``seen``; returns the
    refusal of the slow path, or None.

    ``child(parent, key)`` makes a new node; ``array(node, items, walker, start, n_bag)``
    encodes an array by the rules (its first ``n_bag`` items, cached strings, were appended from
    ``indices[start]``), ``slow(node, value, walker)`` any other value; and
    ``on_shared()`` is called when a column may appear twice in the event (a shared or hashed
    one).
    """

    def __init__(self, indices: list, values: list, seen: list, child: Callable,
                 array: Callable, slow: Callable, on_shared: Callable[[], None]) -> None:
        self.indices = indices
        self.add_index, self.add_value, self.add_seen = indices.append, values.append, seen.append
        self.child, self.array, self.slow, self.on_shared = child, array, slow, on_shared

    def __call__(self, obj, parent):
        indices, add_index, add_value, add_seen = \
            self.indices, self.add_index, self.add_value, self.add_seen
        children = parent.children
        for key, v in obj.items():
            node = children.get(key)
            if node is None:
                node = self.child(parent, key)
            t = type(v)
            if t is float:
                col = node.num_col
                if col >= 0 and v - v == 0.0:  # finite
                    add_index(col)
                    add_value(v)
                    add_seen(node)
                    continue
            elif t is str:
                col = node.cats.get(v)
                if col is not None:
                    if col < 0:
                        col = ~col
                        self.on_shared()
                    add_index(col)
                    add_value(1.0)
                    add_seen(node)
                    continue
            elif t is int:
                col = node.num_col
                if col >= 0 and -MAX_EXACT < v < MAX_EXACT:
                    add_index(col)
                    add_value(float(v))
                    add_seen(node)
                    continue
            elif t is bool:
                col = node.num_col
                if col >= 0:
                    add_index(col)
                    add_value(1.0 if v else 0.0)
                    add_seen(node)
                    continue
            elif t is dict:
                if node.ignored:
                    continue
                refused = self(v, node)
                if refused is not None:
                    return refused
                continue
            elif t is list:
                if node.ignored or not v:  # an empty array is missing
                    continue
                cats = node.cats
                start = len(indices)
                n_bag = 0
                for e in v:  # the usual case first: strings already in the cache
                    if type(e) is not str:
                        break
                    col = cats.get(e)
                    if col is None:
                        break
                    if col < 0:
                        col = ~col
                        self.on_shared()
                    add_index(col)
                    add_value(1.0)
                    n_bag += 1
                if n_bag < len(v):
                    refused = self.array(node, v, self, start, n_bag)
                    if refused is not None:
                        return refused
                    continue
                add_seen(node)
                if n_bag > 1 and (indices[-1] == indices[-2] if n_bag == 2 else
                                  len(set(indices[start:])) < n_bag):
                    self.on_shared()  # a value twice in the bag
                continue
            if node.skip:
                continue
            refused = self.slow(node, v, self)
            if refused is not None:
                return refused
        return None
