"""The embedded broker: kombu's SQLAlchemy transport on SQLite, polled every 50 ms.

kombu's default poll interval of 1 s would add up to a second to every hop of a
workflow; its SQLAlchemy transport hands transport options to ``create_engine``, so the
interval cannot be set through ``broker_transport_options`` and is set here instead. Its
queue creation also races between processes (the API, a worker and beat start together
and each creates the queue row): the loser here reads the winner's row instead of dying
on the unique constraint. Broker URLs ``embedded+sqlite:///path`` select it.
"""
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as SQLAlchemyChannel
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport
from sqlalchemy.exc import IntegrityError

ALIAS = "embedded"


class Channel(SQLAlchemyChannel):
    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # another process created it first
            self.session.rollback()
            return self.session.query(self.queue_cls).filter(self.queue_cls.name == queue).one()


class Transport(SQLAlchemyTransport):
    Channel = Channel
    polling_interval = 0.05


def register() -> None:
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
