"""A durable job queue in the database and the worker that runs it.

Jobs are rows written in the caller's transaction (a transactional outbox). Workers claim due
rows with a lease, run them outside any transaction, and record the outcome; a failed attempt is
retried with exponential backoff until the job's give-up time, when it is marked FAILED and the
seller is alerted.
"""
