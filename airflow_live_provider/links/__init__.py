"""Extra links: from a task in the Grid to the resource it acted on, in the vendor's console.

Airflow 3 calls :meth:`get_link` on the worker when the task ends (templates rendered) and keeps
the URL in XCom for the UI; an empty string means no link, so a link only shows when it can be
built from valid values. The console URL patterns live in :data:`CONSOLE_URLS`, one place to fix
if a vendor moves its console.
"""
