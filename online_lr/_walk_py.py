"""The walk of `online_lr.encoding.FeatureEncoder` over an event's fields, in Python: used when
the C extension (`online_lr/_walk.pyx`, its compiled twin, branch for branch) is not built.

The walk only replays what the encoder has already decided: a value whose column is cached on
its field's node (a finite number, a known category, a nested object, an array) is appended to
the output lists here; anything else goes to the encoder's slow path (``slow``), which holds
the encoding rules. The tests check that both twins encode every fuzzed event alike.
"""

from __future__ import annotations

from collections.abc import Callable

#: Integers below this magnitude convert to float exactly and cannot overflow.
MAX_EXACT = 1 << 53


def walker(indices: list, values: list, seen: list, child: Callable, array: Callable,
           slow: Callable, on_shared: Callable[[], None]) -> Callable:
    """The function ``walk(obj, parent)`` that appends the features of the object ``obj``
    under the node ``parent`` to ``indices``/``values`` and the nodes with a value to ``seen``;
    it returns the refusal of the slow path, or None.

    ``child(parent, key)`` makes a new node; ``array(node, items, walk, start, n_bag)``
    encodes an array by the rules (its first ``n_bag`` items, cached strings, were appended from
    ``indices[start]``), ``slow(node, value, walk)`` any other value; and ``on_shared()`` is
    called when a column may appear twice in the event (a shared or hashed one).
    """
    add_index, add_value, add_seen = indices.append, values.append, seen.append
    max_exact = MAX_EXACT

    def walk(obj, parent):
        children = parent.children
        for key, v in obj.items():
            node = children.get(key)
            if node is None:
                node = child(parent, key)
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
                        on_shared()
                    add_index(col)
                    add_value(1.0)
                    add_seen(node)
                    continue
            elif t is int:
                col = node.num_col
                if col >= 0 and -max_exact < v < max_exact:
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
                refused = walk(v, node)
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
                        on_shared()
                    add_index(col)
                    add_value(1.0)
                    n_bag += 1
                if n_bag < len(v):
                    refused = array(node, v, walk, start, n_bag)
                    if refused is not None:
                        return refused
                    continue
                add_seen(node)
                if n_bag > 1 and (indices[-1] == indices[-2] if n_bag == 2 else
                                  len(set(indices[start:])) < n_bag):
                    on_shared()  # a value twice in the bag
                continue
            if node.skip:
                continue
            refused = slow(node, v, walk)
            if refused is not None:
                return refused
        return None

    return walk
