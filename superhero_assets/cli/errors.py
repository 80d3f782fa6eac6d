"""The CLI's one line for each failure a user can fix: what failed, what to check, what next.

Errors the product raises itself (StateError, PlanError, ConsumeError, StoreConfigError...)
already say so; the clients' own errors (redis-py, confluent-kafka) are translated here.
"""

from __future__ import annotations

import redis
from confluent_kafka import KafkaException

from superhero_assets.core import environment
from superhero_assets.core.kafka import errors as kafka_errors
from superhero_assets.core.kafka.consume import ConsumeError
from superhero_assets.core.run.plan import PlanError
from superhero_assets.core.run.state import StateError

_NOT_REDIS = "Check REDIS_HOST and REDIS_PORT: they must name a Redis server, not another service"


def user_error(exc: BaseException) -> str | None:
    """A message that says what to fix, for the failures a user can fix; None otherwise."""
    if isinstance(exc, redis.RedisError):
        return _redis(exc)
    if isinstance(exc, KafkaException):
        return kafka_errors.explain("failed", exc, environment.kafka().client_config())
    if isinstance(exc, ValueError | StateError | PlanError | ConsumeError):
        return str(exc)
    return None


def _redis(exc: redis.RedisError) -> str | None:
    state = environment.redis_state()
    where = f"{state.host}:{state.port}"
    detail = " ".join(str(exc).split())[:200]
    auth_refused = isinstance(exc, redis.ResponseError) and "auth" in detail.lower()
    if isinstance(exc, redis.AuthenticationError) or auth_refused:
        return f"Redis at {where} refused the credentials: {detail}. Check REDIS_PASSWORD."
    if isinstance(exc, redis.exceptions.InvalidResponse):
        return f"the service at {where} is not Redis (it answered: {detail}). {_NOT_REDIS}."
    if isinstance(exc, redis.ConnectionError) and "closed by server" in detail:
        return (
            f"the service at {where} closed the connection at once: it is probably not Redis. "
            f"{_NOT_REDIS} (and REDIS_SSL if the server wants TLS)."
        )
    if isinstance(exc, redis.TimeoutError):
        return (
            f"the service at {where} accepted a connection but did not answer like Redis "
            f"({detail}). {_NOT_REDIS} (and REDIS_SSL if the server wants TLS)."
        )
    if isinstance(exc, redis.ConnectionError):
        return (
            f"cannot reach Redis at {where}: {detail}. Check REDIS_HOST and REDIS_PORT, or "
            "start the local stack with `superhero stack up`."
        )
    return None
