from django.dispatch import Signal

# Sent after the transaction that stored new events has committed, with `event_ids`
# (a list of Event primary keys). The journeys app listens and enqueues their processing;
# this app never evaluates journeys itself. Duplicates (already stored) are not announced.
events_stored = Signal()
