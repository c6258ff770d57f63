"""Collectors turn a target into samples: ``collect() -> ScrapeResult``.

One module per kind of target (``exposition``, ``redis_info``, ``postgres``,
``sqlite_stats``, ``host``, ``registry``); import the one you use, so a process that
scrapes only HTTP never loads a database driver.
"""
