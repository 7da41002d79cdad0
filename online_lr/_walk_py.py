"""The loop of `online_lr.encoding.FeatureEncoder` over events and its walk over an event's
fields, in Python: used when the C extension (`online_lr/_walk.pyx`, its compiled twin, branch
for branch) is not built.

`encode_events` reads each event's target and timestamp and walks its fields (the encoder's field
tree of `Node`).

The walk only replays what the encoder has already decided: a value whose column is cached on
its field's node (a finite number, a known category, a nested object, an array) is appended to
the output arrays here; anything else goes to the encoder's slow path (``slow``), which holds
the encoding rules. The tests check that both twins encode every fuzzed event alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

#: Integers below this magnitude convert to float exactly and cannot overflow.
MAX_EXACT = 1 << 53
NAN = float("nan")


class Node:
    """One dotted path of the event tree, with its settings and column caches."""

    __slots__ = (
        "nid", "path", "children", "elements", "ignored", "included", "categorical", "skip",
        "num_col", "num_shared", "cats",
    )

    def __init__(self, nid: int, path: str, ignored: bool, included: bool, categorical: bool,
                 skip: bool) -> None:
        self.nid = nid
        self.path = path
        self.children: dict = {}  # key in the event -> Node
        self.elements: list[Node] = []  # array position -> Node
        self.ignored = ignored  # the whole subtree is ignored
        self.included = included  # by `include` (itself or an ancestor)
        self.categorical = categorical
        self.skip = skip  # its scalars are not features
        self.num_col = -1  # column of its number when the fast path may use it, else -1
        self.num_shared = -1  # column of its number when shared with another path (or hashed)
        self.cats: dict = {}  # string value -> column (~column when shared or hashed)


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


def encode_events(events: Iterable, out, walk: Callable, root, target: str | None,
                  timestamp: str | None, transform: bool, names: list, kind_changes: list,
                  as_object: Callable, lookup: Callable, target_number: Callable,
                  parse_time: Callable, merge_row: Callable, forget: Callable) -> int:
    """Encode ``events`` into ``out`` (the encoder's `_Lists`) with ``walk`` from ``root``;
    return how many events there were, refused ones included.

    The common case is handled here: a dict event, a float or int target, a number timestamp
    (or, in the compiled twin, an ISO 8601 string: `iso_seconds`); the rest goes back to the
    encoder:
    ``as_object(event)`` (a transform is set, ``transform``, or the event is not a dict) is
    the object to encode or a refusal; ``lookup(event, path)`` is the value at a dotted path;
    ``target_number(y)`` and ``parse_time(raw)`` are a target's float and a timestamp's
    seconds, or a refusal; ``merge_row(indices, values, start)`` sums a row's entries that
    share a column (flagged by ``out.dup``); ``forget(n_names, n_kind_changes, seen)`` undoes
    the columns and kind changes a refused event added (``names`` and ``kind_changes`` grew)
    and returns the new root.
    """
    indptr, indices, values = out.indptr, out.indices, out.values
    add_y, add_timestamp, add_end = out.y.append, out.timestamps.append, indptr.append
    refusals, seen = out.refusals, out.seen
    target_dotted = target is not None and "." in target
    ts_dotted = timestamp is not None and "." in timestamp
    max_exact = MAX_EXACT
    i = -1
    for i, event in enumerate(events):
        if transform or type(event) is not dict:
            event = as_object(event)
            if not isinstance(event, Mapping):
                refusals.append((i, event))
                continue
        y = NAN
        if target is not None:
            y = event.get(target)
            if y is None and target_dotted:
                y = lookup(event, target)
            if y is None:
                y = NAN
            elif type(y) is float and y - y == 0.0:
                pass
            elif type(y) is int and -max_exact < y < max_exact:
                y = float(y)
            else:
                y = target_number(y)
                if type(y) is not float:
                    refusals.append((i, y))
                    continue
        ts = NAN
        if timestamp is not None:
            raw = event.get(timestamp)
            if raw is None and ts_dotted:
                raw = lookup(event, timestamp)
            if raw is not None:
                if type(raw) is str:
                    ts = iso_seconds(raw)
                elif type(raw) is float:
                    ts = raw
                elif type(raw) is int and -max_exact < raw < max_exact:
                    ts = float(raw)
                if ts - ts != 0.0:  # not read above (NaN), or not finite
                    ts = parse_time(raw)
                    if type(ts) is not float:
                        refusals.append((i, ts))
                        continue
        start = len(indices)
        mark = len(seen)
        n_names = len(names)
        n_kind_changes = len(kind_changes)
        out.dup = False
        refused = walk(event, root)
        if refused is not None:
            del indices[start:], values[start:], seen[mark:]
            refusals.append((i, refused))
            if len(names) != n_names or len(kind_changes) != n_kind_changes:
                root = forget(n_names, n_kind_changes, seen)
            continue
        if out.dup and len(set(indices[start:])) < len(indices) - start:
            merge_row(indices, values, start)
        add_end(len(indices))
        add_y(y)
        add_timestamp(ts)
    return i + 1


def iso_seconds(text: str) -> float:
    """NaN: the timestamp is not read here but by the encoder's ``parse_time``.

    The compiled twin reads the usual ISO 8601 form here, in C; in Python, ``datetime``'s own
    parser (through `online_lr.encoding.parse_timestamp`) is faster than anything written here.
    """
    return NAN
