"""The local stack: Kafka (KRaft) and Redis as real processes, started and stopped by PID file."""


class StackError(RuntimeError):
    """A problem the user can fix; the message says what to do next."""
