"""E-mail: an outbox of rendered messages, sent by the worker over SMTP or into the dev mailbox."""
