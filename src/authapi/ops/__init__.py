"""Operations: metrics, JSON logs, request telemetry."""
