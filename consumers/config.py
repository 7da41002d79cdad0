"""Settings: YAML config files, overridden by the environment and command-line flags, validated
by msgspec against the typed sections below.

A config is a mapping of sections; every key is optional (a missing key keeps its default, given
once, in the section classes below). Unknown sections or keys and values of the wrong type are
refused with a `ConfigError` naming the dotted field, e.g. ``config field 'run.batch_size':
expected int, got 'ten'``; an unknown key with the closest known one (``did you mean``).

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
``configs/<name>.yaml``, else `BUILTIN`), the environment, the flags and ``--set``. An
environment variable ``ONLINE_LR_<SECTION>__<KEY>`` (two underscores between section and key)
sets ``section.key``, its value read as YAML like ``--set``:
``ONLINE_LR_KAFKA__BOOTSTRAP_SERVERS=broker:9092``, ``ONLINE_LR_STREAM__GROUP=lr``,
``ONLINE_LR_MODEL__L2=0.001``, ``ONLINE_LR_MODEL__LEARNING_RATE__TYPE=Constant`` (deeper keys:
more ``__``), ``ONLINE_LR_KAFKA__EXTRA='{fetch_max_bytes: 1048576}'`` (`environment_overrides`).
Other ``ONLINE_LR_*`` variables are not settings.

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
consumers.errors.ConfigError: config field 'run.batch_size': expected int, got 'ten'
>>> validate({"run": {"plt": "mse.png"}})
Traceback (most recent call last):
...
consumers.errors.ConfigError: config field 'run.plt': unknown key 'plt'; did you mean 'plot'? ...
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

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


# -- the settings: types say what is accepted, defaults are given here and nowhere else -----------

Text = Annotated[str, Meta(min_length=1)]
Patterns = tuple[Text, ...]
AtLeastOne = Annotated[int, Meta(ge=1)]
NotNegative = Annotated[int, Meta(ge=0)]
Positive = Annotated[float, Meta(gt=0)]  # and finite (`_check_finite`)


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True,
               repr_omit_defaults=True):
    """A settings section: immutable, unknown keys refused, only changed values in its repr."""


class FieldsSettings(_Section):
    target: Text = "y"  # a dotted path for a nested field
    timestamp: Text | None = None  # event time field (seconds or ISO 8601): never a feature
    features: Patterns | None = None  # the only feature fields (old name of an exact include)
    include: Patterns | None = None  # glob patterns of feature fields (None: all)
    ignore: Patterns = ()  # glob patterns of fields never features
    categorical: Patterns | None = None  # glob patterns of fields whose numbers are categories
    transform: Text | None = None  # 'package.module:function' applied to each event first
    encoding: Literal["onehot", "hash"] = "onehot"  # strings: field=value features or hashed
    hash_bits: AtLeastOne = 18  # 2**hash_bits hash buckets (1 to 31)
    max_features: NotNegative = 100_000  # named features before overflow
    overflow: Literal["hash", "refuse"] = "hash"  # a new feature past max_features
    number_strings: Literal["parse", "keep"] = "parse"  # '1.5': a number or a category
    max_message_bytes: AtLeastOne = 1 << 20  # larger values are refused


class FileSettings(_Section):
    path: Text | None = None  # CSV / JSON Lines / Parquet; 'bundled:NAME' = consumers/data
    format: Literal["auto", "csv", "jsonl", "parquet"] = "auto"
    pace_field: Text | None = None  # replay at the log's pace, reading times from this field
    speed: Positive = 1.0  # pacing speed factor


class RunSettings(_Section):
    batch_size: AtLeastOne = 500  # messages per poll / learn_sequential call
    max_messages: AtLeastOne | None = None  # stop after this many messages
    checkpoint: Text | None = None  # checkpoint file
    checkpoint_every_messages: AtLeastOne | None = 100_000
    checkpoint_every_seconds: Positive | None = 30.0
    log_every_seconds: Positive = 10.0
    progress: bool | None = None  # progress bar (None: only on a terminal)
    plot: Text | None = None  # PNG of the rolling MSE of the model and of its baseline
    predictions: Text | None = None  # replay: row, prediction, reason of every row (csv/jsonl/pq)
    fresh: bool = False  # ignore an existing checkpoint and overwrite it
    override_checkpoint_params: bool = False  # changed model rates apply to a resumed model
    metrics_port: NotNegative | None = None  # serve Prometheus metrics (0: any free port)
    metrics_host: Text = "127.0.0.1"  # address the metrics server listens on


class StreamSettings(_Section):
    topic: Text | None = None
    group: Text | None = None
    # Static group membership, so a restarted consumer (even after kill -9) takes its
    # partitions back at once; 'auto' derives it from host + checkpoint path, None = off.
    group_instance_id: Text | None = "auto"
    predictions_topic: Text | None = None
    dead_letter_topic: Text | None = None
    start_from: Literal["earliest", "latest"] = "earliest"  # partitions not in the checkpoint
    idle_timeout: Positive | None = None  # exit 0 after this many seconds without messages
    stop_at_end: bool = False  # exit 0 once every assigned partition is read to its end
    broker_timeout: Positive = 60.0  # exit non-zero after this long without a reachable broker
    poll_timeout: Positive = 1.0
    partitions: AtLeastOne = 1  # produce: partitions of a created topic
    replication_factor: AtLeastOne | None = None  # produce: None = the broker's default
    key_field: Text | None = None  # produce: message key field
    mix_every: NotNegative = 0  # publish and mix the model with the peers' every N updates
    model_topic: Text | None = None  # compacted topic of the workers' models (parameter mixing)


class KafkaSettings(_Section):
    """Client settings. Passwords are *names of environment variables* (``*_env``)."""

    client: Literal[CLIENTS] = CLIENTS[0]  # confluent: pip install 'online-lr[confluent]'
    bootstrap_servers: Text | Annotated[Patterns, Meta(min_length=1)] = "127.0.0.1:9092"
    client_id: Text = "online-lr"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal[
        "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"
    ] | None = None
    sasl_plain_username: Text | None = None
    sasl_plain_password_env: Text | None = None
    sasl_kerberos_service_name: Text | None = None
    sasl_kerberos_domain_name: Text | None = None
    ssl_cafile: Text | None = None
    ssl_certfile: Text | None = None
    ssl_keyfile: Text | None = None
    ssl_crlfile: Text | None = None
    ssl_password_env: Text | None = None
    ssl_check_hostname: bool = True
    ssl_ciphers: Text | None = None
    request_timeout_ms: AtLeastOne = 30_000
    session_timeout_ms: AtLeastOne | None = None
    heartbeat_interval_ms: AtLeastOne | None = None
    max_poll_interval_ms: AtLeastOne | None = None
    # None: the consumer's default, read_committed (aborted transactions are never learned).
    isolation_level: Literal["read_committed", "read_uncommitted"] | None = None
    # Any other client setting, in the client's spelling (no secrets, see `_check_extra_key`).
    extra: dict[Text, str | int | float | bool] | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's clients, secrets resolved from the environment.

        The result holds secrets (as `Secret`, masked in reprs): pass it to a client and drop
        it; never log it.
        """
        kw: dict[str, Any] = {}
        for name, value in msgspec.structs.asdict(self).items():
            if value is None:
                continue
            if name.endswith("_env"):
                secret = os.environ.get(value)
                if not secret:
                    raise ConfigError(
                        f"kafka.{name}", f"environment variable {value!r} is not set or empty"
                    )
                kw[name.removesuffix("_env")] = Secret(secret)
            elif name == "extra":
                kw[name] = dict(value)  # merged by `client_config` / `librdkafka_config`
            elif name == "bootstrap_servers" and isinstance(value, tuple):
                kw[name] = list(value)
            else:
                kw[name] = value
        return kw


class Settings(_Section):
    fields: FieldsSettings = msgspec.field(default_factory=FieldsSettings)
    file: FileSettings = msgspec.field(default_factory=FileSettings)
    model: dict[str, Any] = {}
    run: RunSettings = msgspec.field(default_factory=RunSettings)
    stream: StreamSettings = msgspec.field(default_factory=StreamSettings)
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)


#: What each command's config sets differently from the defaults above: used when ``--config``
#: is not given and ``configs/<name>.yaml`` is not found next to the package (an installed
#: wheel). A test keeps the files in ``configs/`` validating to the same settings.
BUILTIN: dict[str, dict] = {
    "replay": {
        "fields": {"target": "five_thirty_eight"},
        "file": {"path": BUNDLED_LOG},
        "run": {"batch_size": 65536, "checkpoint_every_messages": 1_000_000},
    },
    "kafka": {
        "run": {"checkpoint": "online-lr.ckpt.json"},
        "stream": {"topic": "online-lr", "group": "online-lr"},
    },
}


# -- validation ------------------------------------------------------------------------------------


def validate(config: Any) -> Settings:
    """Turn a plain mapping (a loaded YAML file, merged with flags) into `Settings`."""
    if config is None:
        config = {}
    if isinstance(config, Mapping):  # a section written with nothing under it keeps its defaults
        config = {key: value for key, value in config.items() if value is not None}
    try:
        settings = msgspec.convert(config, Settings)
    except msgspec.ValidationError as exc:
        raise _config_error(str(exc), config) from None
    _check_finite(settings)
    _check_features(settings.fields)
    _check_kafka(settings.kafka)
    from consumers.schema import build_encoder

    build_encoder(settings.fields)  # the encoder's own checks, e.g. fields.transform
    return settings


def _config_error(message: str, config: Any) -> ConfigError:
    """msgspec's ``Expected `int`, got `str` - at `$.run.batch_size``` as a `ConfigError`:
    the dotted field, the value given, mapping and list in YAML's words."""
    text, key_in, path = re.fullmatch(r"(.*?)(?: - at (`key` in )?`\$\.?(.*)`)?", message).groups()
    path = path or ""  # "run.batch_size", "fields.ignore[1]", "kafka.extra[...]" (its values)
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", text)
    if unknown:
        return _unknown_key(path, unknown[1])
    # kafka.extra is the one place a secret could hide by mistake: its values are never shown
    value = _MISSING if key_in or path.startswith("kafka.extra") else _value_at(config, path)
    if text.startswith("Invalid enum value"):
        text = "expected " + _choices(path)
    elif value is not _MISSING:
        text = re.sub(r", got `[^`]*`$", "", text)
    text = re.sub(r"\bobject\b", "mapping", re.sub(r"\barray\b", "list", text.replace("`", "")))
    text = text[0].lower() + text[1:]
    if value is not _MISSING:
        text += f", got {value!r}"
    elif key_in or "[...]" in path:
        text = f"{'a key' if key_in else 'a value'}: {text}"
    return ConfigError(path.replace("[...]", "") or "<root>", text)


def _unknown_key(section: str, key: str) -> ConfigError:
    """An unknown section (``section == ""``) or key, said as the learner says an unknown model
    parameter (`online_lr.exceptions.UnknownParameterError`: with the closest known name)."""
    from online_lr.exceptions import UnknownParameterError

    field = f"{section}.{key}" if section else key
    if section == "kafka" and key in _SECRET_KEYS:
        return ConfigError(field, "secrets are not accepted in config files or flags; put the "
                                  "secret in an environment variable and name it in "
                                  f"kafka.{_SECRET_KEYS[key]}")
    known = [f.name for f in _type_at(section).fields]
    why = str(UnknownParameterError(key, known, "key" if section else "section"))
    return ConfigError(field, why + ("; any other client setting goes in kafka.extra"
                                     if section == "kafka" else ""))


_MISSING = object()


def _value_at(config: Any, path: str) -> Any:
    """The value at msgspec's ``path`` in ``config``, `_MISSING` for a key of a mapping."""
    value = config
    for part in re.findall(r"[^.\[\]]+|\[[^\]]*\]", path):
        if part == "[...]":
            return _MISSING
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def _type_at(path: str) -> msgspec.inspect.Type:
    info = msgspec.inspect.type_info(Settings)
    for name in filter(None, path.split(".")):
        info = next(f.type for f in info.fields if f.name == name)
    return info


def _choices(path: str) -> str:
    info = _type_at(path)
    options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    choices = [v for t in options if isinstance(t, msgspec.inspect.LiteralType) for v in t.values]
    nullable = any(isinstance(t, msgspec.inspect.NoneType) for t in options)
    return "one of " + ", ".join(map(repr, choices)) + (" or null" if nullable else "")


def _check_finite(settings: Settings) -> None:
    """Refuse ``.inf`` (`Positive` already refuses nan): no deadline or pace is infinite."""
    for name in set(Settings.__struct_fields__) - {"model"}:
        for key, value in msgspec.structs.asdict(getattr(settings, name)).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name}.{key}", f"expected a finite number, got {value!r}")


def _check_features(fields: FieldsSettings) -> None:
    if fields.features is None:
        return
    if fields.target in fields.features:
        raise ConfigError("fields.features", "the target cannot also be a feature")
    if len(set(fields.features)) != len(fields.features):
        raise ConfigError("fields.features", "duplicate feature names")
    if not fields.features:
        raise ConfigError("fields.features", "must not be empty (null = all fields)")
    if fields.include is not None:
        raise ConfigError("fields.features", "give features or include, not both")


def _check_kafka(kafka: KafkaSettings) -> None:
    if kafka.sasl_mechanism == "OAUTHBEARER":
        raise ConfigError(
            "kafka.sasl_mechanism",
            "OAUTHBEARER is not supported: kafka-python needs a token provider object, "
            "which a config cannot hold, and a token's secret cannot be kept out of the "
            "config; use SCRAM-SHA-512 or PLAIN over SASL_SSL, or mTLS (SSL)",
        )
    for key in kafka.extra or {}:
        _check_extra_key(key)


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
    own = set(KafkaSettings.__struct_fields__) - {"extra"}
    own_props = {prop: name for name, (prop, _) in LIBRDKAFKA_NAMES.items()}
    if key in own or key in own_props:
        raise ConfigError(f"kafka.extra.{key}",
                          f"has a setting of its own: kafka.{own_props.get(key, key)}")


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
        raise ConfigError(f"model.{exc.key}", str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError("model", str(exc)) from None
