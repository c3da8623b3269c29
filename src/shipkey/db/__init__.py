"""Database access, one concern a module:

- :mod:`~shipkey.db.types`: the declarative base and the column types every model shares;
- :mod:`~shipkey.db.engine`: the engine and its units of work (:class:`Database`);
- :mod:`~shipkey.db.writes`: inserts and conditional UPDATEs past the ORM's unit of work;
- :mod:`~shipkey.db.reads`: direct reads for hot paths;
- :mod:`~shipkey.db.group_commit`: many requests' writes committed as one transaction.
"""
