"""The stream side of online-lr: feed `online_lr.SGDRegressor` from Kafka or a replayed log.

Modules, in data-flow order:

``columnar``      CSV / JSON Lines / Parquet files through Arrow: replay's source, produce's
                  rows, resumable, optionally paced
``kafka_base``    what both Kafka sources share: positions, checkpoint before revocation, lag
``kafka_source``  KafkaConsumer wrapper: checkpointed offsets, rebalance listener, liveness
``confluent_source``  the same contract on confluent-kafka (librdkafka)
``records``       `Message`, `BadRecord` and the `Reason` codes
``schema``        the ``fields`` settings as an `online_lr.encoding.FeatureEncoder`
``decode``        bytes -> encoded rows (a sparse matrix), pure (never imports kafka)
``learning``      encoded rows -> the model: the one call into the learner
``runner``        the prequential loop shared by replay and consume
``wiring``        settings -> a runner: the one place replay and consume are built
``checkpoint``    model + offsets + the encoder's state in one atomic, checksummed JSON file
``sinks``         predictions and dead letters, produced to Kafka
``reporting``     progress bar, log lines, summary, plot: the model beside its baseline
``predict``       a learned model (checkpoint or model file) scores a file
``config``        YAML configs + flags -> validated settings
``cli``           the ``online-lr`` command (``replay``, ``predict``, ``produce``, ``consume``,
                  ``model``)

Nothing heavy is imported here: ``import consumers.cli`` stays fast.
"""

__all__: list[str] = []
