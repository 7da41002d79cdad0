"""Settings: YAML config files, overridden by command-line flags, validated field by field.

A config is a mapping of sections; every key is optional (missing keys keep the defaults
below). Unknown sections or keys and values of the wrong type are refused with a `ConfigError`
naming the dotted field, e.g. ``config field 'run.batch_size': expected an int >= 1, got 'ten'``.

``fields``  target, timestamp, include/ignore/categorical (globs), transform, encoding,
            hash_bits, max_features, overflow, number_strings, max_message_bytes: how a
            message becomes features (`consumers.schema.build_encoder`).
``file``    path, format, pace_field, speed: the log `online-lr replay`/`produce` read.
``model``   passed as is to `online_lr.SGDRegressor.from_config` (rates or schedules, l2, ...);
            empty (the default of both configs) means ``SGDRegressor()``'s defaults.
``run``     batch_size, max_messages, checkpoint*, log_every_seconds, progress, plot, predictions,
            metrics_port, metrics_host.
``stream``  topic, group, group_instance_id, predictions_topic, dead_letter_topic, start_from,
            idle_timeout, broker_timeout, poll_timeout, partitions, replication_factor,
            key_field, mix_every, model_topic.
``kafka``   client (kafka-python | confluent, see `consumers.clients`) and the client's
            connection and security settings, in kafka-python's spelling (mapped for
            confluent-kafka by `consumers.confluent_client.librdkafka_config`).

Precedence, lowest first: the field defaults below, the config file (``--config``, else
``configs/<name>.yaml``), the environment, the flags and ``--set``. An environment variable
``ONLINE_LR_<SECTION>__<KEY>`` (two underscores between section and key) sets ``section.key``,
its value read as YAML like ``--set``: ``ONLINE_LR_KAFKA__BOOTSTRAP_SERVERS=broker:9092``,
``ONLINE_LR_STREAM__GROUP=lr``, ``ONLINE_LR_MODEL__L2=0.001``,
``ONLINE_LR_MODEL__LEARNING_RATE__TYPE=Constant`` (deeper keys: more ``__``),
``ONLINE_LR_KAFKA__EXTRA='{fetch_max_bytes: 1048576}'`` (`environment_overrides`). Other
``ONLINE_LR_*`` variables are not settings.

``kafka.extra`` passes any other client setting through, in the client's own spelling:
kafka-python keyword arguments (``fetch_max_bytes``) or librdkafka properties
(``fetch.max.bytes``) for ``kafka.client: confluent``. Names that hold secrets are refused
there too, and so are settings that have a field of their own.

Secrets never live in a config file: ``kafka.sasl_plain_password`` and ``kafka.ssl_password``
are refused; name an environment variable instead (``sasl_plain_password_env: KAFKA_PASSWORD``).
The variable is read only by `KafkaSettings.client_kwargs`, when a client is built, and the
value never enters a repr, a log line or a checkpoint.

>>> s = load_settings("replay", None, {"fields.target": "y", "run.batch_size": 64})
>>> s.fields.target, s.run.batch_size, s.model
('y', 64, {})
>>> validate({"run": {"batch_size": "ten"}})
Traceback (most recent call last):
...
consumers.errors.ConfigError: config field 'run.batch_size': expected an int >= 1, got 'ten'
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from consumers.clients import CLIENTS
from consumers.errors import ConfigError

__all__ = [
    "BUILTIN",
    "DATA_DIR",
    "FieldsSettings",
    "FileSettings",
    "KafkaSettings",
    "RunSettings",
    "Settings",
    "StreamSettings",
    "build_model",
    "default_config_path",
    "environment_overrides",
    "load_settings",
    "parse_value",
    "resolve_data_path",
    "validate",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
BUNDLED_PREFIX = "bundled:"
BUNDLED_LOG = "bundled:trump_approval.csv.gz"

_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
_SECRET_KEYS = {
    "sasl_plain_password": "sasl_plain_password_env",
    "ssl_password": "ssl_password_env",
}
#: Parts of a client setting's name that mark it as a secret (refused in ``kafka.extra``).
_SECRET_MARKERS = ("password", "secret", "jaas", "key.pem", "oauthbearer.config",
                   "token_provider")
#: Client settings the stream side owns (its guarantees rest on them): refused in ``kafka.extra``.
_OWNED_CLIENT_SETTINGS = {
    "group_id": "stream.group", "group.id": "stream.group",
    "group_instance_id": "stream.group_instance_id",
    "group.instance.id": "stream.group_instance_id",
    "auto_offset_reset": "stream.start_from", "auto.offset.reset": "stream.start_from",
    "enable_auto_commit": "the checkpoint (offsets are committed with the model)",
    "enable.auto.commit": "the checkpoint (offsets are committed with the model)",
    "enable.auto.offset.store": "the checkpoint (offsets are committed with the model)",
}
ENV_PREFIX = "ONLINE_LR_"


class Secret(str):
    """A secret string whose ``repr`` is masked.

    kafka-python logs its configuration dict at DEBUG (``KafkaAdminClient``), and a dict shows
    its values by ``repr``; the client itself only ever encodes or joins the value.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


# -- field declarations ----------------------------------------------------------------------------
#
# Each field carries its accepted kind in metadata; `_coerce` enforces it. Kinds: "str", "int",
# "float", "bool", "strs" (a list of strings), "servers" (a string or a list of strings),
# "choice" (one of `choices`). ``optional`` allows null; ``minimum``/``positive`` bound numbers.


def _f(default: Any, kind: str, *, optional: bool = False, minimum: float | None = None,
       positive: bool = False, choices: tuple = (), doc: str = "") -> Any:
    meta = {"kind": kind, "optional": optional, "minimum": minimum, "positive": positive,
            "choices": choices, "doc": doc}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class FieldsSettings:
    target: str = _f("y", "str", doc="name of the target field (a dotted path for nested)")
    timestamp: str | None = _f(None, "str", optional=True,
                               doc="event time field (seconds or ISO 8601): never a feature")
    features: tuple[str, ...] | None = _f(None, "strs", optional=True,
                                           doc="the only feature fields (old name of include)")
    include: tuple[str, ...] | None = _f(None, "strs", optional=True,
                                         doc="glob patterns of feature fields (default: all)")
    ignore: tuple[str, ...] = _f((), "strs", doc="glob patterns of fields never features")
    categorical: tuple[str, ...] | None = _f(None, "strs", optional=True,
                                             doc="glob patterns of fields whose numbers are "
                                                 "categories")
    transform: str | None = _f(None, "str", optional=True,
                               doc="'package.module:function' applied to each event first")
    encoding: str = _f("onehot", "choice", choices=("onehot", "hash"),
                       doc="strings as field=value features or hashed into buckets")
    hash_bits: int = _f(18, "int", minimum=1, doc="2**hash_bits hash buckets (1 to 31)")
    max_features: int = _f(100_000, "int", minimum=0, doc="named features before overflow")
    overflow: str = _f("hash", "choice", choices=("hash", "refuse"),
                       doc="a new feature past max_features: hashed or its event refused")
    number_strings: str = _f("parse", "choice", choices=("parse", "keep"),
                             doc="'1.5' in a string: a number (parse) or a category (keep)")
    max_message_bytes: int = _f(1 << 20, "int", minimum=1, doc="larger values are refused")


@dataclass(frozen=True)
class FileSettings:
    path: str | None = _f(None, "str", optional=True,
                          doc="CSV / JSON Lines file (.gz ok); 'bundled:NAME' = consumers/data")
    format: str = _f("auto", "choice", choices=("auto", "csv", "jsonl", "parquet"))
    pace_field: str | None = _f(None, "str", optional=True,
                                doc="replay at the log's pace, reading times from this field")
    speed: float = _f(1.0, "float", positive=True, doc="pacing speed factor")


@dataclass(frozen=True)
class RunSettings:
    batch_size: int = _f(500, "int", minimum=1, doc="messages per poll / learn_sequential call")
    max_messages: int | None = _f(None, "int", optional=True, minimum=1,
                                  doc="stop after this many messages")
    checkpoint: str | None = _f(None, "str", optional=True, doc="checkpoint file")
    checkpoint_every_messages: int | None = _f(10_000, "int", optional=True, minimum=1)
    checkpoint_every_seconds: float | None = _f(30.0, "float", optional=True, positive=True)
    log_every_seconds: float = _f(10.0, "float", positive=True)
    progress: bool | None = _f(None, "bool", optional=True,
                               doc="progress bar (null: only on a terminal)")
    plot: str | None = _f(None, "str", optional=True,
                          doc="PNG of the rolling MSE of the model and of its baseline")
    predictions: str | None = _f(None, "str", optional=True,
                                 doc="replay: write row, prediction, reason of every row here "
                                     "(.csv, .jsonl or .parquet)")
    fresh: bool = _f(False, "bool", doc="ignore an existing checkpoint and overwrite it")
    override_checkpoint_params: bool = _f(
        False, "bool", doc="apply changed model rates/penalties to a resumed checkpoint's model")
    metrics_port: int | None = _f(None, "int", optional=True, minimum=0,
                                  doc="serve Prometheus metrics on this port (0: any free one)")
    metrics_host: str = _f("127.0.0.1", "str", doc="address the metrics server listens on")


@dataclass(frozen=True)
class StreamSettings:
    topic: str | None = _f(None, "str", optional=True)
    group: str | None = _f(None, "str", optional=True)
    group_instance_id: str | None = _f(
        "auto", "str", optional=True,
        doc="static group membership, so a restarted consumer (even after kill -9) takes its "
            "partitions back at once; 'auto' derives it from host + checkpoint path, null = off",
    )
    predictions_topic: str | None = _f(None, "str", optional=True)
    dead_letter_topic: str | None = _f(None, "str", optional=True)
    start_from: str = _f("earliest", "choice", choices=("earliest", "latest"),
                         doc="where a partition absent from the checkpoint starts")
    idle_timeout: float | None = _f(None, "float", optional=True, positive=True,
                                    doc="exit 0 after this many seconds without messages")
    stop_at_end: bool = _f(False, "bool",
                           doc="exit 0 once every assigned partition is read to its end")
    broker_timeout: float = _f(60.0, "float", positive=True,
                               doc="exit non-zero after this long without a reachable broker")
    poll_timeout: float = _f(1.0, "float", positive=True)
    partitions: int = _f(1, "int", minimum=1, doc="produce: partitions of a created topic")
    replication_factor: int | None = _f(None, "int", optional=True, minimum=1,
                                        doc="produce: null = the broker's default")
    key_field: str | None = _f(None, "str", optional=True, doc="produce: message key field")
    mix_every: int = _f(0, "int", minimum=0,
                        doc="publish the model and mix it with the peers' every N updates; 0 = off")
    model_topic: str | None = _f(None, "str", optional=True,
                                 doc="compacted topic of the workers' models (parameter mixing)")


@dataclass(frozen=True)
class KafkaSettings:
    """Client settings. Passwords are *names of environment variables* (``*_env``)."""

    client: str = _f(CLIENTS[0], "choice", choices=CLIENTS,
                     doc="Kafka client library (confluent: pip install 'online-lr[confluent]')")
    bootstrap_servers: str | tuple[str, ...] = _f("127.0.0.1:9092", "servers")
    client_id: str = _f("online-lr", "str")
    security_protocol: str = _f("PLAINTEXT", "choice", choices=_SECURITY_PROTOCOLS)
    sasl_mechanism: str | None = _f(None, "choice", optional=True, choices=_SASL_MECHANISMS)
    sasl_plain_username: str | None = _f(None, "str", optional=True)
    sasl_plain_password_env: str | None = _f(None, "str", optional=True)
    sasl_kerberos_service_name: str | None = _f(None, "str", optional=True)
    sasl_kerberos_domain_name: str | None = _f(None, "str", optional=True)
    ssl_cafile: str | None = _f(None, "str", optional=True)
    ssl_certfile: str | None = _f(None, "str", optional=True)
    ssl_keyfile: str | None = _f(None, "str", optional=True)
    ssl_crlfile: str | None = _f(None, "str", optional=True)
    ssl_password_env: str | None = _f(None, "str", optional=True)
    ssl_check_hostname: bool = _f(True, "bool")
    ssl_ciphers: str | None = _f(None, "str", optional=True)
    request_timeout_ms: int = _f(30_000, "int", minimum=1)
    session_timeout_ms: int | None = _f(None, "int", optional=True, minimum=1)
    heartbeat_interval_ms: int | None = _f(None, "int", optional=True, minimum=1)
    max_poll_interval_ms: int | None = _f(None, "int", optional=True, minimum=1)
    # None: the consumer's default, read_committed (aborted transactions are never learned).
    isolation_level: str | None = _f(
        None, "choice", optional=True, choices=("read_committed", "read_uncommitted")
    )
    extra: dict | None = _f(None, "mapping", optional=True,
                            doc="any other client setting, in the client's spelling (no secrets)")

    def __post_init__(self) -> None:
        if self.sasl_mechanism == "OAUTHBEARER":
            raise ConfigError(
                "kafka.sasl_mechanism",
                "OAUTHBEARER is not supported: kafka-python needs a token provider object, "
                "which a config cannot hold, and a token's secret cannot be kept out of the "
                "config; use SCRAM-SHA-512 or PLAIN over SASL_SSL, or mTLS (SSL)",
            )
        for key in self.extra or {}:
            _check_extra_key(key)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's clients, secrets resolved from the environment.

        The result holds secrets (as `Secret`, masked in reprs): pass it to a client and drop
        it; never log it.
        """
        kw: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name.endswith("_env"):
                secret = os.environ.get(value)
                if not secret:
                    raise ConfigError(
                        f"kafka.{f.name}", f"environment variable {value!r} is not set or empty"
                    )
                kw[f.name[: -len("_env")]] = Secret(secret)
            elif f.name == "extra":
                kw[f.name] = dict(value)  # merged by `client_config` / `librdkafka_config`
            elif f.name == "bootstrap_servers" and isinstance(value, tuple):
                kw[f.name] = list(value)
            else:
                kw[f.name] = value
        return kw

    def __repr__(self) -> str:  # explicit: only env-var *names*, never a resolved secret
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
            if getattr(self, f.name) != f.default
        )
        return f"KafkaSettings({shown})"


@dataclass(frozen=True)
class Settings:
    fields: FieldsSettings = field(default_factory=FieldsSettings)
    file: FileSettings = field(default_factory=FileSettings)
    model: dict = field(default_factory=dict)
    run: RunSettings = field(default_factory=RunSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)


_SECTIONS: dict[str, type] = {
    "fields": FieldsSettings,
    "file": FileSettings,
    "run": RunSettings,
    "stream": StreamSettings,
    "kafka": KafkaSettings,
}

#: The configs used when ``--config`` is not given and ``configs/<name>.yaml`` is not found next
#: to the package (an installed wheel). A test keeps them equal to the files in ``configs/``.
BUILTIN: dict[str, dict] = {
    "replay": {
        "fields": {"target": "five_thirty_eight", "timestamp": None, "include": None, "ignore": [],
                   "categorical": None, "transform": None, "encoding": "onehot", "hash_bits": 18,
                   "max_features": 100000, "overflow": "hash", "number_strings": "parse"},
        "file": {"path": BUNDLED_LOG, "format": "auto", "pace_field": None, "speed": 1.0},
        "model": {},
        "run": {"batch_size": 65536, "checkpoint": None, "checkpoint_every_messages": 1000000,
                "checkpoint_every_seconds": 30.0, "progress": None, "plot": None},
    },
    "kafka": {
        "fields": {"target": "y", "timestamp": None, "include": None, "ignore": [],
                   "categorical": None, "transform": None, "encoding": "onehot", "hash_bits": 18,
                   "max_features": 100000, "overflow": "hash", "number_strings": "parse",
                   "max_message_bytes": 1048576},
        "model": {},
        "run": {"batch_size": 500, "checkpoint": "online-lr.ckpt.json",
                "checkpoint_every_messages": 10000, "checkpoint_every_seconds": 30.0,
                "log_every_seconds": 10.0},
        "stream": {"topic": "online-lr", "group": "online-lr", "group_instance_id": "auto",
                   "predictions_topic": None,
                   "dead_letter_topic": None, "start_from": "earliest", "idle_timeout": None,
                   "broker_timeout": 60.0, "partitions": 1, "key_field": None},
        "kafka": {"client": "kafka-python",
                  "bootstrap_servers": "127.0.0.1:9092", "client_id": "online-lr",
                  "security_protocol": "PLAINTEXT", "sasl_mechanism": None,
                  "sasl_plain_username": None, "sasl_plain_password_env": None,
                  "ssl_cafile": None},
    },
}


# -- validation ------------------------------------------------------------------------------------


def _check_extra_key(key: str) -> None:
    """Refuse a ``kafka.extra`` setting that holds a secret or has a field of its own."""
    from consumers.confluent_client import LIBRDKAFKA_NAMES

    lowered = key.lower()
    if any(marker in lowered for marker in _SECRET_MARKERS):
        raise ConfigError(
            f"kafka.extra.{key}",
            "looks like a secret: secrets are not accepted in config files or flags; use "
            "kafka.sasl_plain_password_env or kafka.ssl_password_env (an environment variable)",
        )
    if key in _OWNED_CLIENT_SETTINGS:
        raise ConfigError(f"kafka.extra.{key}", f"is set by {_OWNED_CLIENT_SETTINGS[key]}")
    own = {f.name for f in fields(KafkaSettings)} - {"extra"}
    own_props = {prop: name for name, (prop, _) in LIBRDKAFKA_NAMES.items()}
    if key in own or key in own_props:
        raise ConfigError(f"kafka.extra.{key}",
                          f"has a setting of its own: kafka.{own_props.get(key, key)}")


def _describe(meta: Mapping) -> str:
    kind = meta["kind"]
    if kind == "choice":
        text = "one of " + ", ".join(repr(c) for c in meta["choices"])
    elif kind == "strs":
        text = "a list of strings"
    elif kind == "servers":
        text = "a 'host:port' string or a list of them"
    elif kind == "mapping":
        text = "a mapping of names to strings, numbers or booleans"
    else:
        text = {"str": "a string", "int": "an int", "float": "a number",
                "bool": "true or false"}[kind]
        if meta["minimum"] is not None:
            text += f" >= {meta['minimum']:g}"
        elif meta["positive"]:
            text += " > 0"
    return text + (" or null" if meta["optional"] else "")


def _coerce(name: str, value: Any, meta: Mapping) -> Any:
    """Check ``value`` against the field's declared kind; return it normalized."""

    def bad() -> ConfigError:
        return ConfigError(name, f"expected {_describe(meta)}, got {value!r}")

    if value is None:
        if meta["optional"]:
            return None
        raise bad()
    kind = meta["kind"]
    if kind in ("str", "choice"):
        if not isinstance(value, str) or (kind == "str" and not value):
            raise bad()
        if kind == "choice" and value not in meta["choices"]:
            raise bad()
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if kind == "int" and not isinstance(value, int):
            raise bad()
        if not math.isfinite(value):
            raise bad()
        if meta["minimum"] is not None and value < meta["minimum"]:
            raise bad()
        if meta["positive"] and not value > 0:
            raise bad()
        return float(value) if kind == "float" else value
    if kind == "strs":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) and v for v in value
        ):
            raise bad()
        return tuple(value)
    if kind == "servers":
        if isinstance(value, str) and value:
            return value
        if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, str) and v for v in value
        ):
            return tuple(value)
        raise bad()
    if kind == "mapping":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, (str, int, float, bool))
            for k, v in value.items()
        ):
            raise bad()
        return dict(value)
    raise AssertionError(kind)  # pragma: no cover


def _section(name: str, cls: type, data: Any) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(name, f"expected a mapping, got {data!r}")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in data.items():
        if name == "kafka" and key in _SECRET_KEYS:
            raise ConfigError(
                f"kafka.{key}",
                "secrets are not accepted in config files or flags; put the secret in an "
                f"environment variable and name it in kafka.{_SECRET_KEYS[key]}",
            )
        if key not in known:
            raise ConfigError(
                f"{name}.{key}", f"unknown key; known keys of {name!r}: {', '.join(known)}"
            )
        values[key] = _coerce(f"{name}.{key}", value, known[key].metadata)
    return cls(**values)


def validate(config: Any) -> Settings:
    """Turn a plain mapping (a loaded YAML file, merged with flags) into `Settings`."""
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigError("<root>", f"a config must be a mapping of sections, got {config!r}")
    unknown = [k for k in config if k != "model" and k not in _SECTIONS]
    if unknown:
        raise ConfigError(
            str(unknown[0]),
            f"unknown section; known sections: model, {', '.join(_SECTIONS)}",
        )
    model = config.get("model") or {}
    if not isinstance(model, Mapping):
        raise ConfigError("model", f"expected a mapping of model parameters, got {model!r}")
    sections = {name: _section(name, cls, config.get(name)) for name, cls in _SECTIONS.items()}
    settings = Settings(model=dict(model), **sections)
    if settings.fields.features is not None:
        if settings.fields.target in settings.fields.features:
            raise ConfigError("fields.features", "the target cannot also be a feature")
        if len(set(settings.fields.features)) != len(settings.fields.features):
            raise ConfigError("fields.features", "duplicate feature names")
        if not settings.fields.features:
            raise ConfigError("fields.features", "must not be empty (null = all fields)")
        if settings.fields.include is not None:
            raise ConfigError("fields.features", "give features or include, not both")
    from consumers.schema import build_encoder

    build_encoder(settings.fields)  # the encoder's own checks, e.g. fields.transform
    return settings


# -- loading ---------------------------------------------------------------------------------------


def default_config_path(name: str) -> Path | None:
    """``configs/<name>.yaml`` of the source tree, if present."""
    path = CONFIG_DIR / f"{name}.yaml"
    return path if path.is_file() else None


def read_yaml(path: str | Path) -> dict:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {str(path)!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("--config", f"{str(path)!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("<root>", f"{str(path)!r} must hold a mapping of sections")
    return data


def _set_dotted(config: dict, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    if not key:
        raise ConfigError(dotted, "expected 'section.key'")
    target = config.setdefault(section, {})
    if target is None:
        target = config[section] = {}
    if not isinstance(target, dict):
        raise ConfigError(section, f"expected a mapping, got {target!r}")
    if section == "model" and "." in key:  # model.learning_rate.learning_rate=0.1
        head, _, rest = key.partition(".")
        sub = target.get(head)
        if not isinstance(sub, dict):
            sub = target[head] = {}
        sub[rest] = value
    else:
        target[key] = value


def parse_value(text: str, where: str) -> Any:
    """A setting's value written as YAML text (``--set``, an environment variable).

    >>> parse_value("1e-9", "model.l2"), parse_value("[a, b]", "fields.ignore")
    (1e-09, ['a', 'b'])
    """
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(where, f"not valid YAML: {exc}") from None
    if isinstance(value, str):  # YAML 1.1 reads 1e-9 (no dot) as a string: it is a number
        try:
            value = float(value)
        except ValueError:
            pass
    return value


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``{"section.key": value}`` of the ``ONLINE_LR_<SECTION>__<KEY>`` variables (see module).

    >>> environment_overrides({"ONLINE_LR_KAFKA__BOOTSTRAP_SERVERS": "b:9092",
    ...                        "ONLINE_LR_RUN__BATCH_SIZE": "64", "ONLINE_LR_KAFKA_CACHE": "/c"})
    {'kafka.bootstrap_servers': 'b:9092', 'run.batch_size': 64}
    """
    out = {}
    for name, text in sorted(environ.items()):
        section, sep, key = name[len(ENV_PREFIX):].partition("__")
        if not name.startswith(ENV_PREFIX) or not sep:
            continue
        if not section or not key:
            raise ConfigError(name, "expected ONLINE_LR_<SECTION>__<KEY>")
        out[f"{section.lower()}.{key.lower().replace('__', '.')}"] = parse_value(text, name)
    return out


def load_settings(
    name: str, path: str | Path | None, overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings of a command: the YAML at ``path`` (default: ``configs/<name>.yaml`` or the
    built-in copy), then the ``ONLINE_LR_*`` variables of ``environ`` (default `os.environ`),
    then ``overrides`` (``{"section.key": value}``, from flags) on top."""
    if path is None:
        default = default_config_path(name)
        config = read_yaml(default) if default else copy.deepcopy(BUILTIN[name])
    else:
        config = read_yaml(path)
    env = environment_overrides(os.environ if environ is None else environ)
    for dotted, value in {**env, **(overrides or {})}.items():
        _set_dotted(config, dotted, value)
    return validate(config)


def resolve_data_path(path: str | None) -> Path:
    """A file path, with ``bundled:NAME`` (and ``None``) meaning a log shipped in the package."""
    if path is None:
        path = BUNDLED_LOG
    if path.startswith(BUNDLED_PREFIX):
        bundled = DATA_DIR / path[len(BUNDLED_PREFIX):]
        if not bundled.is_file():
            raise ConfigError("file.path", f"no bundled log named {path[len(BUNDLED_PREFIX):]!r}")
        return bundled
    return Path(path).expanduser()


def build_model(model_config: Mapping):
    """`SGDRegressor.from_config`, with its errors reported as the ``model.*`` field."""
    from online_lr import SGDRegressor
    from online_lr.exceptions import UnknownParameterError

    try:
        return SGDRegressor.from_config(model_config)
    except UnknownParameterError as exc:
        raise ConfigError(f"model.{exc.key}", f"unknown model parameter; known: "
                          f"{', '.join(sorted(exc.known))}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError("model", str(exc)) from None
